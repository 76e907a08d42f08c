using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Safetensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>The language-model fixtures copied into this project (Fixtures/lm, see its README.md) and the manifest's view of them.</summary>
public static class LmFixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "lm");

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>Every model in the manifest (for xunit theories).</summary>
    public static TheoryData<string> ModelNames()
    {
        var data = new TheoryData<string>();
        foreach (var m in Models()) data.Add(m.Name);
        return data;
    }

    public static IReadOnlyList<ModelCase> Models()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("MANIFEST.json")));
        return doc.RootElement.GetProperty("models").EnumerateArray().Select(ModelCase.From).ToList();
    }

    public static ModelCase Model(string name) => Models().Single(m => m.Name == name);

    public static IReadOnlyList<TokenizerCase> Tokenizers()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("MANIFEST.json")));
        return doc.RootElement.GetProperty("tokenizers").EnumerateArray().Select(t => new TokenizerCase(
            t.GetProperty("name").GetString()!,
            t.GetProperty("path").GetString()!,
            t.GetProperty("cases").EnumerateArray().Select(c => new TokenizerSentence(
                c.GetProperty("text").GetString()!,
                c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                c.GetProperty("decoded").GetString()!)).ToList())).ToList();
    }

    /// <summary>Asserts <c>max|a − e| ≤ tol · max|e|</c> (the manifest's rule) and equal element counts.</summary>
    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, expected {expected.Length}.");
        double maxErr = 0, maxAbs = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            if (!(err <= maxErr))
            {
                maxErr = err;
                worst = i;
            }
            maxAbs = Math.Max(maxAbs, Math.Abs(expected[i]));
        }
        Assert.True(maxErr <= tolerance * maxAbs,
            $"{what}: max |actual − expected| = {maxErr:G4} at {worst} (actual {(worst >= 0 ? actual[worst] : 0)}, expected {(worst >= 0 ? expected[worst] : 0)}) exceeds {tolerance:G2} × max|expected| = {tolerance * maxAbs:G4}.");
    }
}

public sealed record TokenizerSentence(string Text, int[] Ids, string Decoded);

public sealed record TokenizerCase(string Name, string Path, IReadOnlyList<TokenizerSentence> Cases);

public sealed record SpliceCase(string Hook, IReadOnlyList<string> Kinds);

/// <summary>One manifest model entry.</summary>
public sealed record ModelCase(
    string Name, string Family, string Path, string Expected, string Tokenizer, double Tolerance, int Batch, int Context,
    IReadOnlyList<SpliceCase> Splices, IReadOnlyList<string> TlStored, IReadOnlyList<string> TlIdentical, IReadOnlyList<string> TlRawMinusVocabMean,
    bool HasResidMid, string Row0Text)
{
    public string Directory => LmFixtures.PathOf(Path);

    public static ModelCase From(JsonElement e)
    {
        var tl = e.GetProperty("tl_default");
        static string[] Strings(JsonElement a) => a.EnumerateArray().Select(x => x.GetString()!).ToArray();
        return new ModelCase(
            e.GetProperty("name").GetString()!,
            e.GetProperty("family").GetString()!,
            e.GetProperty("path").GetString()!,
            e.GetProperty("expected").GetString()!,
            e.GetProperty("tokenizer").GetString()!,
            e.GetProperty("tolerance").GetProperty("rel_to_max_abs").GetDouble(),
            e.GetProperty("batch").GetProperty("B").GetInt32(),
            e.GetProperty("batch").GetProperty("T").GetInt32(),
            e.GetProperty("splices").EnumerateArray().Select(s => new SpliceCase(s.GetProperty("hook").GetString()!, Strings(s.GetProperty("kinds")))).ToList(),
            Strings(tl.GetProperty("stored")),
            Strings(tl.GetProperty("identical_to_raw")),
            Strings(tl.GetProperty("raw_minus_vocab_mean")),
            !e.TryGetProperty("hooks_absent", out var absent) || !absent.TryGetProperty("hook_resid_mid", out _),
            e.GetProperty("batch").GetProperty("row0_text").GetString()!);
    }

    /// <summary>Opens the expected-outputs file (dispose it).</summary>
    public SafetensorsFile OpenExpected() => SafetensorsFile.Open(LmFixtures.PathOf(Expected));

    public override string ToString() => Name;
}

/// <summary>Reading expected tensors.</summary>
public static class ExpectedExtensions
{
    public static TokenBatch Tokens(this SafetensorsFile f)
    {
        var info = f.Info("input_ids");
        return TokenBatch.FromInt64(f.ReadInt64("input_ids"), (int)info.Shape[0], (int)info.Shape[1]);
    }

    public static float[] Floats(this SafetensorsFile f, string name) => f.ReadSingle(name);

    /// <summary>A <c>[B, T, …]</c> tensor as <c>[B·T, rest]</c>.</summary>
    public static HostMatrix Rows(this SafetensorsFile f, string name)
    {
        var info = f.Info(name);
        int rows = (int)(info.Shape[0] * info.Shape[1]);
        var m = new HostMatrix(rows, (int)(info.ElementCount / rows));
        f.ReadSingle(name, 0, m.Span);
        return m;
    }
}
