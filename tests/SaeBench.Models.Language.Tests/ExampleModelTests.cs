using System.Text.Json;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// The trained GPT-2 of <c>examples/lm/model</c> against the PyTorch implementation that trained it
/// (<c>examples/lm/make_model.py</c> wrote <c>reference.json</c>: its own tokenization of the corpus's first document and
/// its mean next-token loss). A trained model, unlike the random fixtures, has peaked logits, so this also checks the
/// runner where the loss is small.
/// </summary>
public sealed class ExampleModelTests
{
    private static string ExampleModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", "lm", "model");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("examples/lm/model not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void The_example_model_tokenizes_and_scores_its_reference_text_as_PyTorch_did()
    {
        string dir = ExampleModel();
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")));
        var expectedIds = reference.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double expectedLoss = reference.RootElement.GetProperty("loss").GetDouble();

        var model = LanguageModel.Load(dir);
        var tokenizer = LmTokenizer.Load(dir, model.Config);
        var ids = tokenizer.Encode(reference.RootElement.GetProperty("text").GetString()!).Take(expectedIds.Length).ToArray();
        Assert.Equal(expectedIds, ids); // BOS (<|endoftext|>) first, then the same byte-level BPE pieces

        var tokens = new TokenBatch(ids, 1, ids.Length);
        using var result = model.Forward(tokens);
        var losses = new LossEvaluator(model, chunkRows: 32).TokenLosses(result.RequireHidden(), tokens);
        double mean = losses.Average(l => (double)l);
        Assert.True(Math.Abs(mean - expectedLoss) < 1e-4, $"mean loss {mean} vs PyTorch {expectedLoss}");
        Assert.True(expectedLoss < 5.5, $"the example model should have learnt something (loss {expectedLoss}; uniform over 2048 tokens is 7.62)");
    }
}
