using SaeBench.TestKit;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;

namespace SaeBench.Core.Tests.Checkpoints;

public class BatchSelectionWarningTests
{
    [Theory]
    [InlineData(SaeArchitectures.FeatureChoice)]
    [InlineData(SaeArchitectures.MutualChoice)]
    public void A_choice_sae_without_thresholds_warns_that_it_is_encoded_with_batch_selection(string architecture)
    {
        using var dir = new TempDirectory();
        var sae = Some.Sae(architecture);
        var p = sae.Parameters.Clone();
        p.Threshold = null;
        p.ScalarThreshold = null;
        p.K = 3;
        NativeCheckpointWriter.Write(dir.Path, new Sae(architecture, p, sae.Config.Clone()));
        var loaded = CheckpointLoader.Load(dir.Path);
        Assert.Contains(loaded.Info.Warnings, w => w.Contains("batch selection") && w.Contains(architecture));
    }

    [Theory]
    [InlineData(SaeArchitectures.FeatureChoice)]
    [InlineData(SaeArchitectures.MutualChoice)]
    [InlineData(SaeArchitectures.TopK)]
    public void With_thresholds_or_another_architecture_there_is_no_such_warning(string architecture)
    {
        using var dir = new TempDirectory();
        NativeCheckpointWriter.Write(dir.Path, Some.Sae(architecture));
        Assert.DoesNotContain(CheckpointLoader.Load(dir.Path).Info.Warnings, w => w.Contains("batch selection"));
    }
}
