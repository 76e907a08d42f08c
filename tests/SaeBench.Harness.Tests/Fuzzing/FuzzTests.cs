using SaeBench.TestKit;
using Xunit.Abstractions;

namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>
/// The fuzzing recipe (issue 19): every loader — safetensors, SAELens and sparsify configs, torch zips and pickles
/// (mutated and generated), Gemma Scope .npz, .npy, activation safetensors, labels CSV, run/registry/suite YAML, result files and
/// manifests — is fed seeded mutations of real files and generated inputs. Each case must load or be refused as bad
/// input: no other exception, no hang (per-case timeout), no memory blow-up (allocations per case). A small run is part of
/// the suite; a larger one is Slow; any size with <c>SAEBENCH_FUZZ_CASES=N</c> (per target), <c>SAEBENCH_FUZZ_SEED</c>,
/// <c>SAEBENCH_FUZZ_TARGETS=a,b</c>, <c>SAEBENCH_FUZZ_TIMEOUT_S</c> and <c>SAEBENCH_FUZZ_REPORT=FILE</c> (the counts):
/// <code>SAEBENCH_FUZZ_CASES=5000 dotnet test tests/SaeBench.Harness.Tests -c Release --filter "FullyQualifiedName~FuzzTests.Every_loader_survives_a_larger"</code>
/// Failing cases are copied to <c>$TMPDIR/saebench-fuzz-failures/</c>.
/// </summary>
[Collection(FuzzCollection.Name)]
public class FuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_loader_survives_a_small_seeded_fuzz_run() => Run(FuzzSettings.FromEnvironment(defaultCases: 40, defaultSeed: 19));

    [Fact]
    [Trait(Category.Name, Category.Slow)]
    public void Every_loader_survives_a_larger_fuzz_run() => Run(FuzzSettings.FromEnvironment(defaultCases: 300, defaultSeed: 1919));

    [Fact]
    public void Cases_are_reproducible_from_seed_target_and_index()
    {
        foreach (var target in FuzzTargets.All())
        {
            var a = target.Make(new Random(Fuzzer.CaseSeed(7, target.Name, 3)));
            var b = target.Make(new Random(Fuzzer.CaseSeed(7, target.Name, 3)));
            Assert.Equal(a.Origin, b.Origin);
            Assert.Equal(a.Files.Keys, b.Files.Keys);
            foreach (var (path, bytes) in a.Files) Assert.Equal(bytes, b.Files[path]);
        }
    }

    private void Run(FuzzSettings settings)
    {
        using var scratch = new TempDirectory("saebench-fuzz");
        var results = new Fuzzer(settings, scratch.Path).Run(FuzzTargets.All());
        var summary = Fuzzer.Summary(results, settings);
        output.WriteLine(summary);
        if (Environment.GetEnvironmentVariable("SAEBENCH_FUZZ_REPORT") is { Length: > 0 } report) File.WriteAllText(report, summary);
        Assert.True(results.All(r => r.Verdict is FuzzVerdict.Accepted or FuzzVerdict.Refused), summary);
    }
}
