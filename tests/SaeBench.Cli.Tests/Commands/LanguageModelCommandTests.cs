using System.Text.Json;
using SaeBench.TestKit;

namespace SaeBench.Cli.Tests.Commands;

/// <summary>The language-model path end to end on a fixture model: models info, train a suite on its activations, run.</summary>
public sealed class LanguageModelCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Gpt2 => "hf:" + TestData.LmModel("gpt2") + ",context=16,windows=48";

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var env = new Dictionary<string, string> { ["SAEBENCH_CACHE"] = _dir.Directory("cache") };
        int code = await SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, env, workingDirectory: TestData.RepositoryRoot));
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Models_info_describes_the_language_model()
    {
        var (code, output, error) = await Run("models", "info", Gpt2, "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var lm = doc.RootElement.GetProperty("language_model");
        Assert.Equal("gpt2", lm.GetProperty("model_type").GetString());
        Assert.Equal(48, lm.GetProperty("d_model").GetInt32());
        Assert.Equal(3, lm.GetProperty("layers").GetInt32());
        Assert.Equal(4, lm.GetProperty("heads").GetInt32());
        Assert.Equal(300, lm.GetProperty("vocabulary").GetInt32());
        Assert.Equal(32, lm.GetProperty("context").GetInt32());
        Assert.Equal("float32", lm.GetProperty("stored_dtype").GetString());
        Assert.Equal(18, lm.GetProperty("hooks").GetArrayLength());
        Assert.True(lm.GetProperty("parameters").GetInt64() > 100_000);
        Assert.Equal(16, doc.RootElement.GetProperty("positions").GetInt32());
        Assert.True(doc.RootElement.GetProperty("forward_from_hook").GetBoolean());
    }

    [Fact]
    public async Task A_bad_hook_is_exit_code_2_with_a_suggestion()
    {
        var (code, _, error) = await Run("models", "info", Gpt2 + ",hook=blocks.9.hook_resid_post", "--json");
        Assert.Equal(2, code);
        Assert.Contains("blocks.9.hook_resid_post", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    [Trait(Category.Name, Category.Slow)]
    public async Task Train_then_run_core_on_a_language_model_gives_downstream_loss()
    {
        File.WriteAllText(_dir.File("tiny.yaml"), "name: tiny\narchitectures: [topk]\nwidths: [64]\ntarget_l0: [4]\nsteps: 60\nbatch_size: 64\n");
        var (code, output, error) = await Run("train", "--suite", _dir.File("tiny.yaml"), "--model", Gpt2, "--out", _dir.File("suite"));
        Assert.True(code == 0, output + error);

        File.WriteAllText(_dir.File("run.yaml"), $"""
            model: "{Gpt2}"
            checkpoints:
              - path: suite
            evaluators: [core]
            output: out
            """);
        (code, output, error) = await Run("run", "--config", _dir.File("run.yaml"), "--no-images");
        Assert.True(code == 0, output + error);
        var file = Directory.GetFiles(_dir.File("out", "eval_results", "core")).Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var perf = doc.RootElement.GetProperty("eval_result_metrics").GetProperty("model_performance_preservation");
        Assert.True(perf.GetProperty("ce_loss_without_sae").GetDouble() > 0);
        Assert.InRange(perf.GetProperty("ce_loss_score").GetDouble(), -1, 1.0001);
        // 12 test windows of 16 tokens, each starting with BOS (excluded): at most 12 × 15 tokens count.
        Assert.InRange(doc.RootElement.GetProperty("eval_result_metrics").GetProperty("token_stats").GetProperty("total_tokens_eval_reconstruction").GetDouble(), 100, 12 * 15);
    }
}
