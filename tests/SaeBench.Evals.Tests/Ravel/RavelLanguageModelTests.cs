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
/// RAVEL end to end on a real language model (the tiny GPT-2 fixture, its BPE tokenizer and <see cref="LanguageModelInterventions"/>).
/// The model's hook gradient is not merged yet (branch lm-vjp), so here it is central finite differences over the 48
/// hook dimensions (about 2 s here) — exact enough to train a mask. The attribute values are what the model itself says, so
/// every prompt is "correct" and the whole pipeline runs: filter, pairs, mask training, intervened generation, scores.
/// </summary>
public sealed class RavelLanguageModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The fixture model with a finite-difference <see cref="IHookGradient"/>.</summary>
    private sealed class WithNumericGradient(LanguageModelUnderStudy lm) : IModelUnderStudy, IHookGradient
    {
        public ModelInfo Info => lm.Info;

        /// <summary>No corpus: RAVEL reads none (it has its own prompts).</summary>
        public IActivationSource Activations(Split split) => new NoActivations(lm.Info.DModel);

        public T? Capability<T>() where T : class => typeof(T) == typeof(IHookGradient) ? this as T : lm.Capability<T>();

        public HookRowGradient LossGradient(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions, HostMatrix rows, IReadOnlyList<int> targets)
        {
            var losses = new double[sequences.Count];
            var gradient = new HostMatrix(sequences.Count, rows.Cols);
            for (int i = 0; i < sequences.Count; i++)
            {
                var row = rows.Row(i).ToArray();
                losses[i] = Loss(sequences[i], positions[i], row, targets[i]);
                for (int j = 0; j < row.Length; j++)
                {
                    const float h = 1e-2f;
                    var plus = (float[])row.Clone();
                    var minus = (float[])row.Clone();
                    plus[j] += h;
                    minus[j] -= h;
                    gradient[i, j] = (float)((Loss(sequences[i], positions[i], plus, targets[i]) - Loss(sequences[i], positions[i], minus, targets[i])) / (2 * h));
                }
            }
            return new HookRowGradient(losses, gradient);
        }

        private double Loss(int[] ids, int position, float[] row, int target)
        {
            var tokens = new TokenBatch(ids, 1, ids.Length);
            using var value = lm.Model.RunToHook(tokens, lm.Hook.Name);
            row.CopyTo(value.Row(position));
            using var run = lm.Model.ForwardFromHook(lm.Hook, value, tokens);
            using var logits = lm.Model.Logits(run.RequireHidden());
            var last = logits.Row(ids.Length - 1);
            double max = double.NegativeInfinity;
            foreach (var l in last) max = Math.Max(max, l);
            double z = 0;
            foreach (var l in last) z += Math.Exp(l - max);
            return -(last[target] - max - Math.Log(z));
        }
    }

    private sealed class NoActivations(int d) : IActivationSource
    {
        public ActivationShape Shape => new(0, 8, d);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
    }

    [Fact]
    public void The_evaluator_runs_end_to_end_on_a_real_language_model()
    {
        using var lm = LanguageModelUnderStudy.Open(new LanguageModelSpec(TestData.LmModel("gpt2"), Hook: "blocks.1.hook_resid_post", Context: 32, DataDirectory: _dir.Path));
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

        var model = new WithNumericGradient(lm);
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
