using SaeBench.TestKit;
using SaeBench.Training;

namespace SaeBench.Cli.Tests.Commands;

[Trait(Category.Name, Category.Slow)]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("saebench-train-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var env = new Dictionary<string, string> { ["SAEBENCH_GEMM"] = "managed", ["SAEBENCH_CACHE"] = Path.Combine(_dir, "cache") };
        int code = await SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, env, workingDirectory: _dir));
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Trains_a_suite_file_on_an_activation_file_and_skips_it_the_second_time()
    {
        var rows = TrainingBenchmark.SparseRows(600, 8, 20, seed: 3);
        WriteNpy(Path.Combine(_dir, "acts.npy"), 600, 8, rows.ToArray());
        File.WriteAllText(Path.Combine(_dir, "tiny.yaml"), "name: tiny\narchitectures: [topk, relu]\nwidths: [16]\ntarget_l0: [2, 4]\nsteps: 30\nbatch_size: 32\n");

        var (code, output, err) = await Run("train", "--suite", "tiny.yaml", "--model", "file:acts.npy", "--out", "suite");
        Assert.True(code == 0, output + err);
        Assert.Contains("4 trained, 0 already present", output);
        var registry = File.ReadAllText(Path.Combine(_dir, "suite", "registry.yaml"));
        Assert.Contains("topk-w16-l0_2-s0", registry);
        Assert.Contains("architecture: \"relu\"", registry);

        (code, output, _) = await Run("train", "--suite", "tiny.yaml", "--model", "file:acts.npy", "--out", "suite");
        Assert.Equal(0, code);
        Assert.Contains("0 trained, 4 already present", output);
    }

    /// <summary>A float32 .npy (format 1.0): magic, version, header length, a dict padded to 64 bytes, the data.</summary>
    private static void WriteNpy(string path, int rows, int cols, float[] data)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        int total = 10 + dict.Length + 1;
        dict = dict.PadRight(dict.Length + (64 - total % 64) % 64) + "\n";
        using var w = new BinaryWriter(File.Create(path));
        w.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        w.Write((ushort)dict.Length);
        w.Write(System.Text.Encoding.ASCII.GetBytes(dict));
        foreach (var v in data) w.Write(v);
    }

    [Fact]
    public async Task A_bad_suite_file_is_exit_code_2_naming_the_file_and_field()
    {
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), "widths: [16]\ntarget_l0: [2]\narchitectures: [topkk]\n");
        var (code, _, err) = await Run("train", "--suite", "bad.yaml");
        Assert.Equal(2, code);
        Assert.Contains("bad.yaml", err);
        Assert.Contains("architectures", err);

        (code, _, err) = await Run("train", "--suite", "nope");
        Assert.Equal(2, code);
        Assert.Contains("quick, default", err);
    }
}
