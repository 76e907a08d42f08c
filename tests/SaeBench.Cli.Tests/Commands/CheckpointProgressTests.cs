using SaeBench.Cli.Commands;
using SaeBench.Core.Running;

namespace SaeBench.Cli.Tests.Commands;

public class CheckpointProgressTests
{
    [Fact]
    public void The_bar_is_below_100_percent_after_the_last_batch_until_every_job_has_finished()
    {
        var p = new CheckpointProgress(new CheckpointStarted("c", ["core", "mdl", "autointerp"], Batches: 5));
        for (int b = 1; b <= 5; b++) Assert.True(p.Observe(new BatchObserved("c", b, 5)));
        Assert.True(p.Done < p.Total, "100 % at the last batch while three jobs still compute");
        Assert.True(p.Observe(new JobCompleting("c", "core")) == false);
        p.Observe(new JobFinished("c", "core", "done", 1, null));
        p.Observe(new JobFinished("c", "mdl", "failed", 1, "boom"));
        Assert.True(p.Done < p.Total);
        Assert.False(p.Observe(new JobFinished("other", "core", "done", 1, null)));   // another checkpoint's job
        p.Observe(new JobFinished("c", "autointerp", "done", 1, null));
        Assert.Equal(p.Total, p.Done);
    }
}
