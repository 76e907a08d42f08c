using System.Runtime.CompilerServices;

namespace SaeBench.TestKit;

/// <summary>Data files kept in the test tree and shared between test projects (found from this source file's location,
/// which is never path-mapped in test builds).</summary>
public static class TestData
{
    /// <summary>The language-model fixtures (tiny Hugging Face snapshots with float64 reference outputs; see their README).</summary>
    public static string LmFixtures => Path.Combine(TestsDirectory(), "SaeBench.Models.Language.Tests", "Fixtures", "lm");

    /// <summary>The snapshot folder of one fixture model (gpt2, gpt2_legacy, pythia, gemma2, llama, qwen2).</summary>
    public static string LmModel(string name) => Path.Combine(LmFixtures, "models", name);

    /// <summary>SAEBench's published output schemas (prose removed), by eval_type_id.</summary>
    public static string SaeBenchSchema(string evalTypeId) => Path.Combine(TestsDirectory(), "schemas", "saebench", evalTypeId + ".json");

    /// <summary>The repository root.</summary>
    public static string RepositoryRoot => Path.GetDirectoryName(TestsDirectory())!;

    private static string TestsDirectory([CallerFilePath] string self = "") => Path.GetDirectoryName(Path.GetDirectoryName(self))!;
}
