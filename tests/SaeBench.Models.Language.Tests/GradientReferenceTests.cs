using System.Text.Json;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// <see cref="LanguageModel.GradientFromHook(string, HostMatrix, int, IReadOnlyList{TokenTarget})"/> on the fixture models
/// against PyTorch autograd in float64 (Fixtures/gradients, see its README): GPT-2 from resid_mid, Pythia from
/// resid_post, Llama and Gemma-2 from resid_pre.
/// </summary>
public sealed class GradientReferenceTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load()) data.Add(c.GetProperty("model").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_matches_pytorch_autograd(string name)
    {
        var c = Load().Single(e => e.GetProperty("model").GetString() == name);
        string hook = c.GetProperty("hook").GetString()!;
        int sequences = c.GetProperty("sequences").GetInt32(), context = c.GetProperty("context").GetInt32();
        var targets = c.GetProperty("targets").EnumerateArray()
            .Select(t => new TokenTarget(t[0].GetInt32(), t[1].GetInt32(), t[2].GetInt32())).ToArray();
        var losses = c.GetProperty("losses").EnumerateArray().Select(l => l.GetDouble()).ToArray();
        var gradient = c.GetProperty("gradient").EnumerateArray().Select(g => g.GetSingle()).ToArray();

        var m = LmFixtures.Model(name);
        var model = LanguageModel.Load(m.Directory);
        using var expected = m.OpenExpected();
        using var all = expected.Rows(hook);
        using var value = HostMatrix.FromSpan(all.Span, sequences * context, all.Cols);

        using var result = model.GradientFromHook(hook, value, context, targets);
        for (int i = 0; i < losses.Length; i++)
            Assert.True(Math.Abs(result.Losses[i] - losses[i]) <= 1e-5 * Math.Max(1, Math.Abs(losses[i])), $"{name} target {i}: loss {result.Losses[i]}, torch {losses[i]}.");
        LmFixtures.AssertClose(result.Gradient.Span, gradient, 1e-4, $"{name} gradient at {hook}");
    }

    private static List<JsonElement> Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "gradients", "gradients.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone()).ToList();
    }
}
