using System.Diagnostics;
using System.Text;
using SaeBench.Core;

namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>The files of one fuzz case, by path relative to the case's directory.</summary>
public sealed class FuzzInput
{
    public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>"mutated" or "generated", and from what.</summary>
    public string Origin { get; set; } = "";

    public FuzzInput With(string path, byte[] bytes)
    {
        Files[path] = bytes;
        return this;
    }

    public FuzzInput With(string path, string text) => With(path, Encoding.UTF8.GetBytes(text));
}

/// <summary>
/// One loader under fuzzing: how to make a case (mutating a real file or generating one) and how to load it the way the
/// harness does. Loading may succeed or throw <see cref="BadInputException"/>; anything else is a crash.
/// </summary>
public abstract class FuzzTarget
{
    public abstract string Name { get; }

    /// <summary>A case drawn from <paramref name="rng"/> alone, so that (seed, target, index) reproduces it.</summary>
    public abstract FuzzInput Make(Random rng);

    /// <summary>Loads the case written under <paramref name="directory"/>.</summary>
    public abstract void Load(string directory);
}

/// <summary>How one case ended.</summary>
public enum FuzzVerdict
{
    /// <summary>Loaded.</summary>
    Accepted,
    /// <summary>Refused as bad input (<see cref="BadInputException"/>).</summary>
    Refused,
    /// <summary>Any other exception: the CLI would have printed a stack trace.</summary>
    Crash,
    /// <summary>Still running at the per-case timeout.</summary>
    Hang,
    /// <summary>Allocated more than the per-case budget, or ran out of memory.</summary>
    Memory,
}

public sealed record FuzzResult(string Target, int Index, string Origin, FuzzVerdict Verdict, string Detail, string? SavedTo, double Milliseconds, long AllocatedBytes);

/// <summary>
/// Settings of a fuzz run. From the environment: <c>SAEBENCH_FUZZ_CASES</c> (cases per target), <c>SAEBENCH_FUZZ_SEED</c>,
/// <c>SAEBENCH_FUZZ_TARGETS</c> (comma-separated names), <c>SAEBENCH_FUZZ_TIMEOUT_S</c>, <c>SAEBENCH_FUZZ_REPORT</c>
/// (a file to write the counts to).
/// </summary>
public sealed record FuzzSettings(int CasesPerTarget, int Seed, TimeSpan Timeout, long MemoryBudgetBytes, IReadOnlySet<string>? Targets)
{
    public static FuzzSettings FromEnvironment(int defaultCases, int defaultSeed)
    {
        static string? Var(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        int cases = Var("SAEBENCH_FUZZ_CASES") is { } c ? int.Parse(c, System.Globalization.CultureInfo.InvariantCulture) : defaultCases;
        int seed = Var("SAEBENCH_FUZZ_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : defaultSeed;
        // A hang runs forever; 120 s only has to tell it from a slow case on a starved machine (the slowest of 14,000 cases
        // took 4.5 s; a 20 s bound flaked in CI while heavy tests shared the process — FuzzCollection now runs it alone).
        double timeout = Var("SAEBENCH_FUZZ_TIMEOUT_S") is { } t ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 120;
        var targets = Var("SAEBENCH_FUZZ_TARGETS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        return new FuzzSettings(cases, seed, TimeSpan.FromSeconds(timeout), 512L << 20, targets);
    }
}

/// <summary>
/// Runs targets case by case, each case on its own thread with a timeout and its allocations measured, in a scratch
/// directory under the system temp folder. A case that crashes, hangs or blows the memory budget is copied to
/// <c>$TMPDIR/saebench-fuzz-failures/</c> to be replayed.
/// </summary>
public sealed class Fuzzer(FuzzSettings settings, string scratch)
{
    public IReadOnlyList<FuzzResult> Run(IEnumerable<FuzzTarget> targets)
    {
        var results = new List<FuzzResult>();
        foreach (var target in targets)
        {
            if (settings.Targets is { } only && !only.Contains(target.Name)) continue;
            for (int i = 0; i < settings.CasesPerTarget; i++)
            {
                var result = RunCase(target, i);
                results.Add(result);
                if (result.Verdict == FuzzVerdict.Hang) return results; // its thread still runs: stop rather than pile up
            }
        }
        return results;
    }

    /// <summary>A seed for (run seed, target, case) that does not depend on string hashing (randomised per process).</summary>
    public static int CaseSeed(int seed, string target, int index)
    {
        uint h = 2166136261;
        foreach (char c in $"{seed}/{target}/{index}") h = (h ^ c) * 16777619;
        return (int)h;
    }

    public FuzzResult RunCase(FuzzTarget target, int index)
    {
        var input = target.Make(new Random(CaseSeed(settings.Seed, target.Name, index)));
        var dir = Path.Combine(scratch, $"{target.Name}-{index}");
        Directory.CreateDirectory(dir);
        foreach (var (path, bytes) in input.Files)
        {
            var full = Path.Combine(dir, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }

        Exception? error = null;
        long allocated = 0;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { target.Load(dir); }
            catch (Exception e) { error = e; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }) { IsBackground = true, Name = $"fuzz {target.Name} {index}" };
        var watch = Stopwatch.StartNew();
        thread.Start();
        bool finished = thread.Join(settings.Timeout);

        (FuzzVerdict Verdict, string Detail) outcome = !finished
            ? (FuzzVerdict.Hang, $"still running after {settings.Timeout.TotalSeconds:0} s")
            : error is OutOfMemoryException || allocated > settings.MemoryBudgetBytes
                ? (FuzzVerdict.Memory, $"allocated {allocated >> 20} MiB{(error is null ? "" : $" ({error.GetType().Name})")}")
                : error switch
                {
                    null => (FuzzVerdict.Accepted, ""),
                    BadInputException => (FuzzVerdict.Refused, Normalise(error.Message, dir)),
                    _ => (FuzzVerdict.Crash, Describe(error)),
                };
        string? saved = null;
        if (outcome.Verdict is FuzzVerdict.Crash or FuzzVerdict.Hang or FuzzVerdict.Memory) saved = Save(target, index, input, outcome.Detail);
        if (finished) TryDelete(dir);
        return new FuzzResult(target.Name, index, input.Origin, outcome.Verdict, outcome.Detail, saved, watch.Elapsed.TotalMilliseconds, allocated);
    }

    /// <summary>A refusal message with the case's folder and the numbers taken out, so that like refusals count together.</summary>
    private static string Normalise(string message, string dir)
    {
        var line = message.Replace(dir, "…", StringComparison.Ordinal).Split('\n')[0];
        line = System.Text.RegularExpressions.Regex.Replace(line, @"\d+", "#");
        return line.Length > 110 ? line[..110] + "…" : line;
    }

    private static string Describe(Exception e)
    {
        var frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("SaeBench.", StringComparison.Ordinal)) ?? "";
        var message = e.Message.Split('\n')[0];
        return $"{e.GetType().Name}: {(message.Length > 200 ? message[..200] + "…" : message)} {frame}";
    }

    private string Save(FuzzTarget target, int index, FuzzInput input, string detail)
    {
        var dir = Path.Combine(Path.GetTempPath(), "saebench-fuzz-failures", $"{target.Name}-seed{settings.Seed}-case{index}");
        Directory.CreateDirectory(dir);
        foreach (var (path, bytes) in input.Files)
        {
            var full = Path.Combine(dir, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }
        File.WriteAllText(Path.Combine(dir, "VERDICT.txt"), $"{target.Name} case {index} ({input.Origin}): {detail}\n");
        return dir;
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Counts per target and verdict, and the failures, as text.</summary>
    public static string Summary(IReadOnlyList<FuzzResult> results, FuzzSettings settings)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"fuzz: seed {settings.Seed}, {settings.CasesPerTarget} cases per target, {results.Count} cases in all, timeout {settings.Timeout.TotalSeconds:0} s, memory budget {settings.MemoryBudgetBytes >> 20} MiB per case");
        sb.AppendLine($"{"target",-26}{"cases",8}{"accepted",10}{"refused",9}{"crash",7}{"hang",6}{"memory",8}{"max ms",9}{"max MiB",9}");
        foreach (var g in results.GroupBy(r => r.Target))
            sb.AppendLine($"{g.Key,-26}{g.Count(),8}{Count(g, FuzzVerdict.Accepted),10}{Count(g, FuzzVerdict.Refused),9}{Count(g, FuzzVerdict.Crash),7}{Count(g, FuzzVerdict.Hang),6}{Count(g, FuzzVerdict.Memory),8}" +
                          $"{g.Max(r => r.Milliseconds),9:0}{g.Max(r => r.AllocatedBytes) / 1048576.0,9:0.0}");
        sb.AppendLine($"{"all",-26}{results.Count,8}{Count(results, FuzzVerdict.Accepted),10}{Count(results, FuzzVerdict.Refused),9}{Count(results, FuzzVerdict.Crash),7}{Count(results, FuzzVerdict.Hang),6}{Count(results, FuzzVerdict.Memory),8}");
        foreach (var f in results.Where(r => r.Verdict is FuzzVerdict.Crash or FuzzVerdict.Hang or FuzzVerdict.Memory).Take(50))
            sb.AppendLine($"  {f.Verdict} {f.Target}#{f.Index} ({f.Origin}): {f.Detail} → {f.SavedTo}");
        sb.AppendLine("most frequent refusals per target:");
        foreach (var g in results.Where(r => r.Verdict == FuzzVerdict.Refused).GroupBy(r => r.Target))
            foreach (var m in g.GroupBy(r => r.Detail).OrderByDescending(m => m.Count()).Take(3))
                sb.AppendLine($"  {g.Key,-26}{m.Count(),6}  {m.Key}");
        return sb.ToString();
    }

    private static int Count(IEnumerable<FuzzResult> results, FuzzVerdict verdict) => results.Count(r => r.Verdict == verdict);
}
