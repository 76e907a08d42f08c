using System.Globalization;
using SaeBench.Core;
using SaeBench.Core.Running;

namespace SaeBench.Harness;

/// <summary>
/// Turns <c>--shard</c> into a <see cref="Shard"/>: <c>i/n</c> (1-based) as written, or <c>auto</c>, which reads the
/// index and count from the scheduler that started the process:
/// <list type="bullet">
/// <item>a Slurm job array: <c>SLURM_ARRAY_TASK_ID</c> with <c>SLURM_ARRAY_TASK_MIN</c>, <c>SLURM_ARRAY_TASK_STEP</c>
/// (default 1) and <c>SLURM_ARRAY_TASK_COUNT</c> (else <c>SLURM_ARRAY_TASK_MAX</c>), so that <c>--array=1-8</c>,
/// <c>--array=0-7</c> and <c>--array=0-14:2</c> all give shards 1…8 of 8;</item>
/// <item>a Kubernetes Indexed Job: <c>JOB_COMPLETION_INDEX</c> (0-based) with the count from
/// <c>SAEBENCH_SHARD_COUNT</c> (set it to the Job's <c>completions</c>; Kubernetes exports no count).</item>
/// </list>
/// Anything missing or inconsistent is a <see cref="BadInputException"/> that names the variable.
/// </summary>
public static class ShardSource
{
    public const string Auto = "auto";
    public const string CountVariable = "SAEBENCH_SHARD_COUNT";

    public static Shard Resolve(string? text, Func<string, string?> variables)
    {
        if (text is null) return Shard.All;
        if (!text.Equals(Auto, StringComparison.OrdinalIgnoreCase))
        {
            try { return Shard.Parse(text); }
            catch (FormatException e) { throw new BadInputException(e.Message + " Or use --shard auto under a Slurm job array or a Kubernetes Indexed Job."); }
        }
        if (variables("SLURM_ARRAY_TASK_ID") is { Length: > 0 } id) return Slurm(id, variables);
        if (variables("JOB_COMPLETION_INDEX") is { Length: > 0 } index) return Indexed(index, variables);
        throw new BadInputException("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes " +
                                    "Indexed Job) is set; give --shard i/n instead.");
    }

    private static Shard Slurm(string idText, Func<string, string?> v)
    {
        long id = Number("SLURM_ARRAY_TASK_ID", idText);
        long min = v("SLURM_ARRAY_TASK_MIN") is { Length: > 0 } m ? Number("SLURM_ARRAY_TASK_MIN", m) : 0;
        long step = v("SLURM_ARRAY_TASK_STEP") is { Length: > 0 } s ? Number("SLURM_ARRAY_TASK_STEP", s) : 1;
        if (step < 1) throw new BadInputException($"--shard auto: SLURM_ARRAY_TASK_STEP must be positive (got {step}).");
        long count = v("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } c ? Number("SLURM_ARRAY_TASK_COUNT", c)
            : v("SLURM_ARRAY_TASK_MAX") is { Length: > 0 } max ? (Number("SLURM_ARRAY_TASK_MAX", max) - min) / step + 1
            : throw new BadInputException("--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is.");
        if ((id - min) % step != 0)
            throw new BadInputException($"--shard auto: SLURM_ARRAY_TASK_ID {id} is not on the array's grid (min {min}, step {step}); " +
                                        "use a range such as --array=0-7 or --array=1-8.");
        return Make((id - min) / step, count, $"SLURM_ARRAY_TASK_ID {id} (min {min}, step {step})");
    }

    private static Shard Indexed(string indexText, Func<string, string?> v)
    {
        long index = Number("JOB_COMPLETION_INDEX", indexText);
        if (v(CountVariable) is not { Length: > 0 } c)
            throw new BadInputException($"--shard auto: JOB_COMPLETION_INDEX is set but {CountVariable} is not; set it to the Job's completions.");
        return Make(index, Number(CountVariable, c), $"JOB_COMPLETION_INDEX {index}");
    }

    private static Shard Make(long zeroBased, long count, string what)
    {
        if (count < 1 || count > int.MaxValue) throw new BadInputException($"--shard auto: the shard count must be at least 1 (got {count}).");
        if (zeroBased < 0 || zeroBased >= count)
            throw new BadInputException($"--shard auto: {what} gives shard {zeroBased + 1} of {count}, outside 1…{count}.");
        return new Shard((int)zeroBased + 1, (int)count);
    }

    private static long Number(string name, string text) =>
        long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n
            : throw new BadInputException($"--shard auto: {name} must be an integer (got '{text}').");
}
