using System.Diagnostics;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;
using SaeBench.TestKit;

namespace SaeBench.Cli.Tests.Commands;

/// <summary>
/// <c>saebench run</c> and <c>saebench report</c> as child processes whose PATH has <c>dotnet</c> and nothing else but a
/// <c>node</c> and an <c>npm</c> that only leave a mark when started: figures (SVG and PNG) and the interactive report are
/// produced, and neither program is ever started.
/// </summary>
public class NoNodeTests
{
    [Fact]
    [Trait(Category.Name, Category.Slow)]
    public void Run_and_report_draw_png_and_svg_with_no_node_or_npm_on_path()
    {
        using var tmp = new TempDirectory();
        var bin = tmp.Directory("bin");
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/bin/dotnet";
        File.CreateSymbolicLink(Path.Combine(bin, "dotnet"), Path.GetFullPath(dotnet));
        var marker = Path.Combine(tmp.Path, "node-was-started");
        foreach (var tool in new[] { "node", "npm" })
        {
            var script = Path.Combine(bin, tool);
            File.WriteAllText(script, $"#!/bin/sh\necho {tool} >> '{marker}'\nexit 1\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // A small activation file and two native checkpoints: the run path is the default job's, only smaller.
        const int D = 8, N = 200;
        var rng = new Random(3);
        SafetensorsWriter.Write(Path.Combine(tmp.Path, "acts.safetensors"),
            [SafetensorsTensor.F32("activations", Enumerable.Range(0, N * D).Select(_ => (float)rng.NextDouble()).ToArray(), N, D)]);
        for (int c = 0; c < 2; c++)
        {
            var enc = new HostMatrix(D, 2 * D);
            var dec = new HostMatrix(2 * D, D);
            for (int i = 0; i < D; i++) { enc[i, i] = 1; dec[i, i] = 1 - 0.1f * c; }
            NativeCheckpointWriter.Write(Path.Combine(tmp.Path, "ckpts", $"relu-{c}"),
                new Sae("relu", new SaeParameters { WEnc = enc, BEnc = new float[2 * D], WDec = dec, BDec = new float[D] }));
        }
        File.WriteAllText(Path.Combine(tmp.Path, "run.yaml"), "model: file\nactivations: acts.safetensors\ncheckpoints:\n  - glob: ckpts/*\nevaluators: [core]\noutput: out\n");

        var run = Cli(tmp.Path, bin, "run", "--config", "run.yaml");
        Assert.True(run.Code == 0, run.Output);
        var report = Cli(tmp.Path, bin, "report", "out", "--out", "rebuilt");
        Assert.True(report.Code == 0, report.Output);

        Assert.False(File.Exists(marker), "node or npm was started: " + (File.Exists(marker) ? File.ReadAllText(marker) : ""));
        foreach (var dir in new[] { "out", "rebuilt" })
        {
            var figures = Path.Combine(tmp.Path, dir, "figures");
            Assert.True(new FileInfo(Path.Combine(figures, "architecture_comparison.png")).Length > 10_000, $"{dir}: no PNG");
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(figures, "architecture_comparison.svg")));
            Assert.True(File.Exists(Path.Combine(figures, "summary_core.png")));
            Assert.Contains("id=\"chart\"", File.ReadAllText(Path.Combine(tmp.Path, dir, "report.html")));
        }
    }

    private static (int Code, string Output) Cli(string cwd, string bin, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(bin, "dotnet"), ["exec", Path.Combine(AppContext.BaseDirectory, "saebench.dll"), .. args])
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["PATH"] = bin,
                ["SAEBENCH_CACHE"] = TestCache.Directory,
                ["DOTNET_ROOT"] = Path.GetDirectoryName(Path.GetFullPath(new FileInfo(Path.Combine(bin, "dotnet")).ResolveLinkTarget(true)?.FullName ?? "/usr/bin/dotnet"))!,
            },
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); return (-1, "timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
