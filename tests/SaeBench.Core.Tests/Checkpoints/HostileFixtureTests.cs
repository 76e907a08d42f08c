using SaeBench.TestKit;
using SaeBench.Core.Checkpoints;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>Every hostile fixture is refused with an error naming the file and what is wrong; nothing is executed.</summary>
public class HostileFixtureTests
{
    public static TheoryData<string> Hostile() => new(Fixtures.Hostile());

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Is_refused_by_load_and_by_inspect(string path)
    {
        var full = Fixtures.PathOf(path);
        var load = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(full));
        var inspect = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(full));
        Assert.Contains(Path.GetFileName(path), load.Message);
        Assert.Equal(load.Message, inspect.Message);
    }

    [Theory]
    [InlineData("hostile/os_system_ae.pt", "os.system")]
    [InlineData("hostile/truncated.safetensors", "out of range")]
    [InlineData("hostile/header_too_long.safetensors", "100 MB")]
    [InlineData("hostile/offsets_past_end.safetensors", "W_enc.data_offsets")]
    [InlineData("hostile/unknown_dtype.safetensors", "unknown dtype 'Q7'")]
    [InlineData("hostile/nan_weights", "non-finite")]
    public void Says_what_is_wrong(string path, string expected)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(Fixtures.PathOf(path)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_os_system_pickle_runs_nothing()
    {
        using var dir = new TempDirectory();
        var copy = dir.File("ae.pt");
        File.Copy(Fixtures.PathOf("hostile/os_system_ae.pt"), copy);
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = dir.Path;
        try
        {
            var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(copy));
            Assert.Contains("not on the allow-list", e.Message);
            Assert.Contains("nothing was executed", e.Message);
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
        Assert.False(File.Exists(Path.Combine(dir.Path, "pwned")));
    }

    [Fact]
    public void Nan_weights_load_when_allowed_and_are_reported()
    {
        var loaded = CheckpointLoader.Load(Fixtures.PathOf("hostile/nan_weights"), new LoadOptions(AllowNonFinite: true));
        Assert.NotEmpty(loaded.Info.NonFinite);
        Assert.Contains(loaded.Info.Warnings, w => w.Contains("non-finite"));
        var inspected = CheckpointLoader.Inspect(Fixtures.PathOf("hostile/nan_weights"), new LoadOptions(AllowNonFinite: true));
        Assert.Equal(loaded.Info.NonFinite, inspected.NonFinite);
    }
}
