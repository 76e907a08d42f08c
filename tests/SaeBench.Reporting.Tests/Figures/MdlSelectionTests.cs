using SaeBench.TestKit;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Figures;

public class MdlSelectionTests
{
    [Theory]
    [InlineData(0.1, "topk-1024-l32")]   // candidates 400, 420, 260, 180 bits → 180
    [InlineData(0.15, "relu-256-l16")]   // adds 150 (fvu 0.15) and 190; topk-1024-l8 (140) has fvu 0.16 → 150
    [InlineData(0.2, "topk-256-l8")]     // everything qualifies → 120
    public void Smallest_description_length_within_the_fvu_target(double target, string expected)
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        Assert.Equal(expected, MdlSelection.Optimal(ResultReader.Load(tmp.Path), target));
    }

    [Fact]
    public void None_when_no_checkpoint_meets_the_target_and_baselines_never_count()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        Write(tmp.Path, "mdl", SmallRun.Pca, [DescriptionLength(1), Fvu(0.0)]);
        var set = ResultReader.Load(tmp.Path);
        Assert.Null(MdlSelection.Optimal(set, 0.01));
        Assert.Equal("topk-1024-l32", MdlSelection.Optimal(set, 0.1));
    }
}
