using SaeBench.Core;
using SaeBench.Core.Running;

namespace SaeBench.Harness.Tests;

public class ShardSourceTests
{
    private static Func<string, string?> Env(params (string Name, object Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value?.ToString();

    /// <summary>Every checkpoint index 0…n-1 belongs to exactly one of the shards.</summary>
    private static void CoversExactlyOnce(IReadOnlyList<Shard> shards, int checkpoints)
    {
        for (int i = 0; i < checkpoints; i++)
            Assert.Equal(1, shards.Count(s => s.Contains(i)));
    }

    [Theory]
    [InlineData(0, 7, 1)]      // --array=0-7
    [InlineData(1, 8, 1)]      // --array=1-8
    [InlineData(10, 24, 2)]    // --array=10-24:2
    public void Slurm_array_tasks_cover_the_plan_exactly_once(int min, int max, int step)
    {
        var ids = Enumerable.Range(0, (max - min) / step + 1).Select(k => min + k * step).ToList();
        var shards = ids.Select(id => ShardSource.Resolve("auto", Env(("SLURM_ARRAY_TASK_ID", id), ("SLURM_ARRAY_TASK_MIN", min),
            ("SLURM_ARRAY_TASK_MAX", max), ("SLURM_ARRAY_TASK_STEP", step), ("SLURM_ARRAY_TASK_COUNT", ids.Count)))).ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count), shards.Select(s => s.Index));
        Assert.All(shards, s => Assert.Equal(ids.Count, s.Count));
        CoversExactlyOnce(shards, 37);
    }

    [Fact]
    public void Slurm_without_a_count_uses_the_maximum()
    {
        var s = ShardSource.Resolve("auto", Env(("SLURM_ARRAY_TASK_ID", 5), ("SLURM_ARRAY_TASK_MIN", 3), ("SLURM_ARRAY_TASK_MAX", 6)));
        Assert.Equal(new Shard(3, 4), s);
    }

    [Fact]
    public void Indexed_job_pods_cover_the_plan_exactly_once()
    {
        var shards = Enumerable.Range(0, 5).Select(i => ShardSource.Resolve("auto", Env(("JOB_COMPLETION_INDEX", i), (ShardSource.CountVariable, 5)))).ToList();
        Assert.Equal([1, 2, 3, 4, 5], shards.Select(s => s.Index));
        CoversExactlyOnce(shards, 23);
    }

    [Theory]
    [InlineData("auto", "neither SLURM_ARRAY_TASK_ID")]
    [InlineData("3/2", "i/n")]
    public void Bad_or_missing_sources_are_bad_input(string text, string expected)
    {
        var e = Assert.Throws<BadInputException>(() => ShardSource.Resolve(text, Env()));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Inconsistent_scheduler_variables_name_the_variable()
    {
        Assert.Contains(ShardSource.CountVariable, Assert.Throws<BadInputException>(() => ShardSource.Resolve("auto", Env(("JOB_COMPLETION_INDEX", 0)))).Message);
        Assert.Contains("outside", Assert.Throws<BadInputException>(() =>
            ShardSource.Resolve("auto", Env(("JOB_COMPLETION_INDEX", 4), (ShardSource.CountVariable, 4)))).Message);
        Assert.Contains("grid", Assert.Throws<BadInputException>(() => ShardSource.Resolve("auto",
            Env(("SLURM_ARRAY_TASK_ID", 3), ("SLURM_ARRAY_TASK_MIN", 0), ("SLURM_ARRAY_TASK_STEP", 2), ("SLURM_ARRAY_TASK_COUNT", 4)))).Message);
        Assert.Equal(Shard.All, ShardSource.Resolve(null, Env()));
        Assert.Equal(new Shard(2, 3), ShardSource.Resolve("2/3", Env()));
    }
}
