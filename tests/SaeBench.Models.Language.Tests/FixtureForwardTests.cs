using SaeBench.Compute.Tensors;
using SaeBench.Core.Safetensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// Every fixture model against its float64 reference: logits, loss, every hook, every splice (zeros and random), raw and
/// after TransformerLens's default processing, within the manifest tolerance.
/// </summary>
public sealed class FixtureForwardTests
{
    public static TheoryData<string> Models => LmFixtures.ModelNames();

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_and_loss_match_the_reference(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory);
        var tokens = expected.Tokens();
        Assert.Equal((m.Batch, m.Context), (tokens.Batch, tokens.Context));
        var (logits, loss) = LogitsAndLoss(model, tokens, model.Forward(tokens));
        LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, $"{name} logits");
        LmFixtures.AssertClose(loss, expected.Floats("loss"), m.Tolerance, $"{name} loss");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_managed_GEMM_gives_the_same_logits_as_OpenBLAS(string name)
    {
        // Machines without OpenBLAS fall back to the managed GEMM; the runner must not depend on which one runs.
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var backend = Compute.Backends.CpuBackend.Create(new Compute.Backends.CpuBackendOptions(Compute.Backends.GemmChoice.Managed));
        var model = LanguageModel.Load(m.Directory, new LanguageModelOptions(WeightProcessing.TlDefault, backend));
        Assert.StartsWith("managed", model.Backend.Gemm.Name);
        var tokens = expected.Tokens();
        var (logits, loss) = LogitsAndLoss(model, tokens, model.Forward(tokens));
        string logitsName = m.TlStored.Contains("logits") ? "tl_default.logits" : "logits";
        LmFixtures.AssertClose(logits, expected.Floats(logitsName), m.Tolerance, $"{name} managed-GEMM logits");
        LmFixtures.AssertClose(loss, expected.Floats("loss"), m.Tolerance, $"{name} managed-GEMM loss");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_hook_matches_the_reference_in_one_pass(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory);
        using var hooks = model.RunWithHooks(expected.Tokens(), ["all"]);
        int compared = 0;
        foreach (var hook in model.Hooks.All)
        {
            Assert.True(expected.Contains(hook.Name), $"{name}: the model has {hook.Name}, the reference does not.");
            LmFixtures.AssertClose(hooks.Values[hook.Name].Span, expected.Floats(hook.Name), m.Tolerance, $"{name} {hook.Name}");
            compared++;
        }
        int reference = expected.Tensors.Count(t => t.Name.StartsWith("blocks.", StringComparison.Ordinal));
        Assert.Equal(reference, compared);
        Assert.Equal(m.HasResidMid, model.Hooks.All.Any(h => h.Kind == HookKind.ResidMid));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Running_to_a_hook_stops_there_and_gives_the_same_value(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory);
        using var z = model.RunToHook(expected.Tokens(), "blocks.1.attn.hook_z");
        Assert.Equal(model.Config.Heads * model.Config.HeadDim, z.Cols);
        LmFixtures.AssertClose(z.Span, expected.Floats("blocks.1.attn.hook_z"), m.Tolerance, $"{name} run-to z");
        using var result = model.Forward(expected.Tokens(), new ForwardOptions([model.Hooks.Resolve("blocks.0.hook_mlp_out")], null, StopAfterLastHook: true));
        Assert.Null(result.Hidden);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Splices_match_the_reference(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory);
        CheckSplices(m, model, expected, prefix: "", expectedPrefix: "");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void TransformerLens_default_processing_matches_every_stored_tensor(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory, new LanguageModelOptions(WeightProcessing.TlDefault));
        var tokens = expected.Tokens();
        var (logits, loss) = LogitsAndLoss(model, tokens, model.Forward(tokens));
        using var hooks = model.RunWithHooks(tokens, ["all"]);

        float[] Ours(string tensor) => tensor switch
        {
            "logits" => logits,
            "loss" => loss,
            _ when tensor.StartsWith("splice.", StringComparison.Ordinal) => Splice(model, expected, tensor),
            _ => hooks.Values[tensor].ToArray(),
        };

        foreach (var t in m.TlStored) LmFixtures.AssertClose(Ours(t), expected.Floats("tl_default." + t), m.Tolerance, $"{name} tl_default.{t}");
        foreach (var t in m.TlIdentical) LmFixtures.AssertClose(Ours(t), expected.Floats(t), m.Tolerance, $"{name} tl_default {t} = raw");
        foreach (var t in m.TlRawMinusVocabMean)
        {
            var raw = expected.Floats(t);
            int vocab = model.Config.Vocab;
            for (int r = 0; r < raw.Length / vocab; r++)
            {
                var row = raw.AsSpan(r * vocab, vocab);
                float mean = (float)(row.ToArray().Sum(v => (double)v) / vocab);
                for (int i = 0; i < vocab; i++) row[i] -= mean;
            }
            LmFixtures.AssertClose(Ours(t), raw, m.Tolerance, $"{name} tl_default {t} = raw − vocab mean");
        }
        int covered = m.TlStored.Count + m.TlIdentical.Count + m.TlRawMinusVocabMean.Count;
        Assert.True(covered > 0);
        // Gemma-2 keeps everything (RMS norms, no biases, soft-capped logits): the manifest says nothing changes.
        if (m.Family == "gemma2") Assert.Empty(m.TlStored);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_splice_through_a_handler_equals_continuing_from_the_hook(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory);
        var tokens = expected.Tokens();
        var hook = model.Hooks.Resolve("blocks.1.hook_resid_post");
        using var value = expected.Rows("splice.blocks.1.hook_resid_post.random.value");
        using var viaHandler = model.Forward(tokens, new ForwardOptions([hook], new SpliceHandler(hook, value)));
        using var fromHook = model.ForwardFromHook(hook, value, tokens: null, context: tokens.Context);
        LmFixtures.AssertClose(fromHook.RequireHidden().Span, viaHandler.RequireHidden().Span, 1e-6, $"{name} splice paths");
    }

    private static void CheckSplices(ModelCase m, LanguageModel model, SafetensorsFile expected, string prefix, string expectedPrefix)
    {
        int checkedCount = 0;
        foreach (var splice in m.Splices)
        foreach (var kind in splice.Kinds)
        {
            string key = $"splice.{splice.Hook}.{kind}";
            var logits = Splice(model, expected, key + ".logits", out var loss);
            LmFixtures.AssertClose(logits, expected.Floats(expectedPrefix + key + ".logits"), m.Tolerance, $"{m.Name} {prefix}{key}.logits");
            LmFixtures.AssertClose(loss, expected.Floats(expectedPrefix + key + ".loss"), m.Tolerance, $"{m.Name} {prefix}{key}.loss");
            checkedCount++;
        }
        Assert.Equal(m.Splices.Sum(s => s.Kinds.Count), checkedCount);
    }

    /// <summary>Our value of a splice tensor name <c>splice.&lt;hook&gt;.&lt;kind&gt;.logits|loss</c>.</summary>
    private static float[] Splice(LanguageModel model, SafetensorsFile expected, string tensor)
    {
        var logits = Splice(model, expected, tensor, out var loss);
        return tensor.EndsWith(".loss", StringComparison.Ordinal) ? loss : logits;
    }

    private static float[] Splice(LanguageModel model, SafetensorsFile expected, string tensor, out float[] loss)
    {
        // splice.<hook>.<kind>.<what>; hooks contain dots, so split from the end.
        var parts = tensor.Split('.');
        string kind = parts[^2];
        string hookName = string.Join('.', parts[1..^2]);
        var hook = model.Hooks.Resolve(hookName);
        var tokens = expected.Tokens();
        using var value = kind == "zeros"
            ? new HostMatrix(tokens.Tokens, model.Hooks.Width(hook))
            : expected.Rows($"splice.{hookName}.random.value");
        using var result = model.ForwardFromHook(hook, value, tokens);
        var (logits, l) = LogitsAndLoss(model, tokens, result);
        loss = l;
        return logits;
    }

    internal static (float[] Logits, float[] Loss) LogitsAndLoss(LanguageModel model, TokenBatch tokens, ForwardResult result)
    {
        using (result)
        {
            using var logits = model.Logits(result.RequireHidden());
            // A chunk size that does not divide the 60 rows exercises the chunk boundaries.
            var loss = new LossEvaluator(model, chunkRows: 7).TokenLosses(result.RequireHidden(), tokens);
            return (logits.ToArray(), loss);
        }
    }
}
