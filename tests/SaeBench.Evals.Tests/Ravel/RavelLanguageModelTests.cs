using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.Ravel;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Models.Language;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>
/// RAVEL end to end on a real language model: the tiny GPT-2 fixture, its BPE tokenizer, <see cref="LanguageModelInterventions"/>
/// and the model's own hook gradient (<c>LanguageModel.GradientFromHook</c>), first checked against finite differences
/// through the capability RAVEL uses. The attribute values are what the model itself says, so the prompts are "correct"
/// and the whole pipeline runs: filter, pairs, mask training, intervened generation, scores (the fixture's completions
/// are noise, so the scores only have to be scores).
/// </summary>
public sealed class RavelLanguageModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private LanguageModelUnderStudy Open() =>
        LanguageModelUnderStudy.Open(new LanguageModelSpec(TestData.LmModel("gpt2"), Hook: "blocks.1.hook_resid_post", Context: 32, DataDirectory: _dir.Path));

    /// <summary>The fixture model without a corpus (RAVEL reads none: it has its own prompts); every capability is the model's.</summary>
    private sealed class WithoutCorpus(LanguageModelUnderStudy lm) : IModelUnderStudy
    {
        public ModelInfo Info => lm.Info;

        public IActivationSource Activations(Split split) => new NoActivations(lm.Info.DModel);

        public T? Capability<T>() where T : class => lm.Capability<T>();
    }

    /// <summary>−log p(target) after <paramref name="ids"/> alone, with the hook row at <paramref name="position"/> replaced.</summary>
    private static double Loss(LanguageModelUnderStudy lm, int[] ids, int position, float[] row, int target)
    {
        var tokens = new TokenBatch(ids, 1, ids.Length);
        using var value = lm.Model.RunToHook(tokens, lm.Hook.Name);
        row.CopyTo(value.Row(position));
        using var run = lm.Model.ForwardFromHook(lm.Hook, value, tokens);
        using var logits = lm.Model.Logits(run.RequireHidden());
        var last = logits.Row(ids.Length - 1).ToArray();
        double max = last.Max();
        return -(last[target] - max - Math.Log(last.Sum(l => Math.Exp(l - max))));
    }

    private sealed class NoActivations(int d) : IActivationSource
    {
        public ActivationShape Shape => new(0, 8, d);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
    }

    [Fact]
    public void The_language_model_hook_gradient_matches_finite_differences()
    {
        using var lm = Open();
        var gradient = lm.Capability<IHookGradient>()!;
        var interventions = lm.Capability<ITextInterventions>()!;
        List<int[]> ids = [lm.Tokenizer.Encode("the word import is"), lm.Tokenizer.Encode("after self comes the"), lm.Tokenizer.Encode("see list")];
        int[] positions = [2, 2, 1];
        int[] targets = [5, 40, 123];
        using var rows = interventions.HookRowsAt(ids, positions);
        using var result = gradient.LossGradient(ids, positions, rows, targets);
        for (int i = 0; i < ids.Count; i++)
        {
            var row = rows.Row(i).ToArray();
            Assert.Equal(Loss(lm, ids[i], positions[i], row, targets[i]), result.Losses[i], 4);
            double largest = 0;
            for (int j = 0; j < row.Length; j++) largest = Math.Max(largest, Math.Abs(result.Gradient[i, j]));
            Assert.True(largest > 1e-3, $"sequence {i}: gradient {largest}");
            for (int j = 0; j < row.Length; j++)
            {
                const float h = 1e-2f;
                var plus = (float[])row.Clone();
                var minus = (float[])row.Clone();
                plus[j] += h;
                minus[j] -= h;
                double numeric = (Loss(lm, ids[i], positions[i], plus, targets[i]) - Loss(lm, ids[i], positions[i], minus, targets[i])) / (2 * h);
                Assert.True(Math.Abs(numeric - result.Gradient[i, j]) <= 1e-4 + 3e-2 * largest, $"sequence {i}, dim {j}: {result.Gradient[i, j]} vs {numeric}");
            }
        }
    }

    [Fact]
    public void The_evaluator_runs_end_to_end_on_a_real_language_model()
    {
        using var lm = Open();
        var interventions = lm.Capability<ITextInterventions>()!;
        string[] entities = ["import", "class", "def", "return", "self", "print", "value", "list"];
        var templates = new JsonObject
        {
            ["First"] = new JsonArray("the word %s is", "%s means"),
            ["Second"] = new JsonArray("after %s comes", "see %s and"),
        };
        // Each entity's "value" of an attribute is what the model says after the attribute's first template.
        var values = new JsonObject();
        foreach (var entity in entities)
        {
            var o = new JsonObject();
            foreach (var (attribute, list) in templates)
            {
                var (prefix, remainder) = RavelData.Split((string)list!.AsArray()[0]!);
                int[] ids = [.. lm.Tokenizer.Encode(prefix + entity), .. lm.Tokenizer.Encode(remainder, prependBos: false)];
                var first = interventions.Generate([ids], 6)[0];
                o[attribute] = RavelPrompts.Decode(lm.Tokenizer, first).Split('"')[0].Trim(' ', '"');
            }
            values[entity] = o;
        }
        File.WriteAllText(Path.Combine(_dir.Path, RavelData.PromptsFile("word")), templates.ToJsonString());
        File.WriteAllText(Path.Combine(_dir.Path, RavelData.AttributesFile("word")), values.ToJsonString());

        var model = new WithoutCorpus(lm);
        var evaluator = new RavelEvaluator();
        var options = evaluator.ParseOptions(new JsonObject
        {
            ["data_directory"] = ".",
            ["entity_attribute_selection"] = new JsonObject { ["word"] = new JsonArray("First", "Second") },
            ["llm_batch_size"] = 4,
        });
        var context = EvalFixtures.Context(Sae.Identity(48), model);
        var result = SingleJob.Run(evaluator, options, context);
        SaeBenchSchemas.AssertValid("ravel", ResultFiles.Of(evaluator, options, result, context));

        var word = result.Unstructured!["entity_types"]!["word"]!;
        Assert.Equal(32, (int)word["prompts"]!);
        // The labels are the model's own completions of each attribute's first template (so those prompts are correct
        // unless the completion is empty); the second template is judged on its own.
        int labelled = values.Sum(e => e.Value!.AsObject().Count(a => ((string)a.Value!).Length > 0));
        Assert.True((int)word["prompts_correct"]! >= labelled, word.ToJsonString() + values.ToJsonString());
        foreach (var id in new[] { "ravel.cause_score", "ravel.isolation_score", "ravel.disentanglement_score" })
            Assert.InRange(result.Get(id)!.Value, 0, 1);
        foreach (var (_, detail) in result.Unstructured!["per_entity_attribute"]!.AsObject())
            Assert.True((int)detail!["train_steps"]! > 0, detail.ToJsonString());
    }
}
