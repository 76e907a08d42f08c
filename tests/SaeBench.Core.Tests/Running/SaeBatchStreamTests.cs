using SaeBench.TestKit;
using SaeBench.Compute.Backends;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Core.Tests.Running;

public class SaeBatchStreamTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create();

    [Fact]
    public void A_code_only_pass_gives_the_same_codes_and_no_reconstruction()
    {
        var model = FakeModelBuilder.Random(12, examples: 300, seed: 4).Build();
        var sae = Some.Sae("topk", dIn: 12, dSae: 40);
        var source = model.Activations(Split.Test);
        var full = SaeBatchStream.Encode(sae, Backend, source, batchRows: 64).Select(b => (F: b.F.ToArray(), H: b.XHat.Cols, S: b.Nonzeros is not null)).ToList();
        var codes = SaeBatchStream.Encode(sae, Backend, source, batchRows: 64, decode: false).Select(b => (F: b.F.ToArray(), H: b.XHat.Cols, S: b.Nonzeros is not null)).ToList();
        Assert.Equal(full.Count, codes.Count);
        for (int i = 0; i < full.Count; i++)
        {
            Assert.Equal(full[i].F, codes[i].F);
            Assert.Equal(12, full[i].H);
            Assert.Equal(0, codes[i].H);
            Assert.True(full[i].S && codes[i].S); // top-k entries are handed out either way
        }
    }
}
