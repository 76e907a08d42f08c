using System.Diagnostics;
using SaeBench.Compute.Backends;
using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.Core.Tests.Running;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Results;

public class AtomicFileTests
{
    [Fact]
    public void A_writer_that_throws_leaves_the_old_file_intact_and_no_temp_file()
    {
        using var tmp = new TempDirectory();
        var path = tmp.File("r.json");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.WriteByte((byte)'n');
            throw new InvalidOperationException("killed");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(tmp.Path));
    }

    private static string Temp(string dir, AtomicFile.Owner owner, string content = "partial")
    {
        var path = Path.Combine(dir, AtomicFile.TempName("r.json", owner));
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void A_temp_file_of_a_process_that_is_gone_is_cleaned()
    {
        using var tmp = new TempDirectory();
        using var gone = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        var start = new DateTimeOffset(gone.StartTime.ToUniversalTime()).ToUnixTimeSeconds();
        gone.Kill();
        gone.WaitForExit();
        var orphan = Temp(tmp.Path, new AtomicFile.Owner(gone.Id, start, AtomicFile.Self.Host));
        File.WriteAllText(tmp.File("r.json"), "whole");
        Assert.Equal(1, AtomicFile.CleanOrphans(tmp.Path));
        Assert.False(File.Exists(orphan));
        Assert.Equal([tmp.File("r.json")], Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void A_temp_file_of_another_live_process_is_never_cleaned()
    {
        using var tmp = new TempDirectory();
        using var other = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            var start = new DateTimeOffset(other.StartTime.ToUniversalTime()).ToUnixTimeSeconds();
            var inFlight = Temp(tmp.Path, new AtomicFile.Owner(other.Id, start, AtomicFile.Self.Host));
            File.SetLastWriteTimeUtc(inFlight, DateTime.UtcNow.AddDays(-3)); // even a slow writer's file survives
            Assert.Equal(0, AtomicFile.CleanOrphans(tmp.Path));
            Assert.True(File.Exists(inFlight));

            // The same process id with another start time is a reused id: that writer is gone.
            var reused = Temp(tmp.Path, new AtomicFile.Owner(other.Id, start - 3600, AtomicFile.Self.Host));
            Assert.Equal(1, AtomicFile.CleanOrphans(tmp.Path));
            Assert.False(File.Exists(reused));
            Assert.True(File.Exists(inFlight));
        }
        finally
        {
            other.Kill();
            other.WaitForExit();
        }
    }

    [Fact]
    public void Temp_files_whose_owner_cannot_be_checked_are_cleaned_only_when_old()
    {
        using var tmp = new TempDirectory();
        var legacy = tmp.File(".r.json.abcd1234.tmp"); // the name older versions wrote
        File.WriteAllText(legacy, "partial");
        var otherHost = Temp(tmp.Path, new AtomicFile.Owner(1, 1, "00000000"));
        Assert.Equal(0, AtomicFile.CleanOrphans(tmp.Path));
        Assert.Equal(2, AtomicFile.CleanOrphans(tmp.Path, DateTimeOffset.UtcNow + AtomicFile.AbandonedAfter + TimeSpan.FromMinutes(1)));
        Assert.False(File.Exists(legacy));
        Assert.False(File.Exists(otherHost));
    }

    [Fact]
    public void A_long_target_name_still_gets_a_temp_name_that_fits()
    {
        using var tmp = new TempDirectory();
        var path = tmp.File(new string('n', 230) + ".json");
        AtomicFile.WriteAllText(path, "whole");
        Assert.Equal("whole", File.ReadAllText(path));
        Assert.True(AtomicFile.TempName(Path.GetFileName(path), AtomicFile.Self).Length < 200);
    }

    /// <summary>
    /// Issue 19: a starting shard deleted another shard's temp file in flight, so that shard's rename failed and its job
    /// was lost. Here a write is held open (its temp file on disk) while a runner starts on the same output directory.
    /// </summary>
    [Fact]
    public async Task A_starting_runner_leaves_a_write_in_flight_alone()
    {
        using var tmp = new TempDirectory();
        var target = Path.Combine(tmp.Path, "eval_results", "other", "x_eval_results.json");
        using var writing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writer = Task.Run(() => AtomicFile.Write(target, s =>
        {
            s.WriteByte((byte)'{');
            writing.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            s.WriteByte((byte)'}');
        }));
        Assert.True(writing.Wait(TimeSpan.FromSeconds(30)));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(target)!, ".*.tmp"));

        var model = FakeModelBuilder.Random(2, examples: 10, seed: 1).Build();
        var settings = new RunSettings(tmp.Path, CpuBackend.Create(), new HarnessVersion("0.1.0", "asm:test", null), TimeProvider.System) { Shard = new Shard(2, 2) };
        new Runner(settings).Run([], [], model);

        release.Set();
        await writer; // threw FileNotFoundException when the temp file had been deleted
        Assert.Equal("{}", File.ReadAllText(target));
    }
}
