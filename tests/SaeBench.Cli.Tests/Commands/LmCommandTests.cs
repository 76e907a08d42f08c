using System.Text.Json;
using SaeBench.Cli;
using SaeBench.Core.Safetensors;

namespace SaeBench.Cli.Tests.Commands;

/// <summary><c>saebench lm forward|tokenize</c> and <c>saebench bench lm</c> on the language-model fixtures.</summary>
public class LmCommandTests
{
    /// <summary>The fixtures live in the language-model test project; found from the repository root.</summary>
    private static string Fixtures
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SaeBench.Net.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("repository root not found"),
                "tests", "SaeBench.Models.Language.Tests", "Fixtures", "lm");
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, workingDirectory: Fixtures)).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static double MaxRelative(float[] a, float[] e)
    {
        double err = 0, max = 0;
        for (int i = 0; i < e.Length; i++)
        {
            err = Math.Max(err, Math.Abs(a[i] - e[i]));
            max = Math.Max(max, Math.Abs(e[i]));
        }
        return err / max;
    }

    [Fact]
    public void Forward_writes_logits_loss_and_hooks_that_match_the_reference()
    {
        string output = Path.Combine(Path.GetTempPath(), $"lm-forward-{Guid.NewGuid():N}.safetensors");
        try
        {
            var (code, _, err) = Run("lm", "forward", "--model", "models/gpt2", "--input-ids", "expected/gpt2.safetensors",
                "--hooks", "blocks.1.attn.hook_z,blocks.2.hook_resid_post", "--processing", "tl-default",
                "--splice", "blocks.1.attn.hook_z=expected/gpt2.safetensors:splice.blocks.1.attn.hook_z.random.value", "--output", output);
            Assert.True(code == 0, err);
            using var ours = SafetensorsFile.Open(output);
            using var expected = SafetensorsFile.Open(Path.Combine(Fixtures, "expected", "gpt2.safetensors"));
            Assert.Equal([3, 20, 300], ours.Info("logits").Shape);
            Assert.Equal([3, 20, 4, 12], ours.Info("blocks.1.attn.hook_z").Shape);
            Assert.True(MaxRelative(ours.ReadSingle("logits"), expected.ReadSingle("tl_default.splice.blocks.1.attn.hook_z.random.logits")) < 1e-4);
            Assert.True(MaxRelative(ours.ReadSingle("loss"), expected.ReadSingle("tl_default.splice.blocks.1.attn.hook_z.random.loss")) < 1e-4);
            Assert.True(MaxRelative(ours.ReadSingle("blocks.1.attn.hook_z"), expected.ReadSingle("splice.blocks.1.attn.hook_z.random.value")) < 1e-6);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void Tokenize_applies_the_family_bos_rule()
    {
        var (code, output, _) = Run("lm", "tokenize", "--model", "models/gemma2", "--text", "Hello world", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal([2, 294, 367, 272, 275, 366, 352, 272, 264], doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        (code, output, _) = Run("lm", "tokenize", "--model", "models/gpt2", "--text", "Hello world");
        Assert.Equal(0, code);
        Assert.Equal("299 39 286 75 78 284 271 75 67", output.Trim());
    }

    [Fact]
    public void Bad_input_is_one_line_and_exit_code_2()
    {
        var (code, _, err) = Run("lm", "forward", "--model", "models/pythia", "--input-ids", "expected/pythia.safetensors",
            "--hooks", "blocks.0.hook_resid_mid", "--output", Path.Combine(Path.GetTempPath(), "unused.safetensors"));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("parallel residual", err);
        (code, _, err) = Run("lm", "tokenize", "--model", "expected", "--text", "x");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("config.json", err);
    }

    [Fact]
    public void Bench_lm_reports_tokens_per_second()
    {
        var (code, output, err) = Run("bench", "lm", "--model", "models/llama", "--tokens", "64", "--context", "16", "--repeats", "2", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(4, doc.RootElement.GetProperty("batch").GetInt32());
        Assert.True(doc.RootElement.GetProperty("best_tokens_per_s").GetDouble() > 0);
        (code, _, err) = Run("bench", "lm", "--shape", "gpt2-small", "--model", "models/llama");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("exactly one", err);
    }
}
