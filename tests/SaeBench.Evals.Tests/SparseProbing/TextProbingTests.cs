using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;

using SaeBench.Evals.Shared;
using SaeBench.Evals.SparseProbing;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Models;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.SparseProbing;

/// <summary>Sparse probing on a labelled text dataset, on a fixture language model.</summary>
public sealed class TextProbingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private IModelUnderStudy Model() => ModelCatalog.Create("hf:" + TestData.LmModel("gpt2") + ",context=16,windows=16",
        new ModelOptions { WorkingDirectory = _dir.Path, CacheActivations = false });

    /// <summary>Two classes told apart by their words: "return value" texts vs "the list" texts, with noise words around.</summary>
    private void WriteDataset(string name)
    {
        var rng = new Random(4);
        string[] filler = ["and", "of", "in", "to", "is", "for", "on"];
        using var w = new StreamWriter(_dir.File(name));
        for (int i = 0; i < 240; i++)
        {
            bool a = i % 2 == 0;
            var words = Enumerable.Range(0, 6).Select(_ => filler[rng.Next(filler.Length)]).ToList();
            words.Insert(rng.Next(words.Count), a ? "return value" : "the list");
            w.WriteLine(JsonSerializer.Serialize(new { sentence = string.Join(' ', words), kind = a ? "code" : "prose", split = i < 180 ? "train" : "test" }));
        }
    }

    /// <summary>
    /// An SAE whose latent 0 is planted on the direction that separates the classes (the difference of their pooled
    /// activations), the others random: the top-1 probe must find latent 0 and separate the classes; without the
    /// planted latent the top-1 probe is much worse.
    /// </summary>
    [Fact]
    public void Probing_a_separable_text_dataset_finds_the_planted_latent()
    {
        WriteDataset("kinds.jsonl");
        var model = Model();
        var text = model.Capability<ITextModel>()!;
        int d = model.Info.DModel;
        var data = LabelledDataset.Load(model.Capability<ILabelledTextSource>()!,
            new TextDatasetOptions { Name = "kinds", Path = "kinds.jsonl", TextField = "sentence", LabelField = "kind", SplitField = "split" }, seed: 1);
        var probe = TextExamples.EncodePooled(EvalFixtures.Context(Sae.Identity(d), model), text, data.TrainTexts, 16);
        // The planted direction: a logistic probe on the pooled activations (the classes are not separable along the mean
        // difference of this random model's activations, but they are linearly separable).
        var probeFit = LogisticRegression.Fit(probe.Activations!, data.TrainClasses.Select(c => c == 0).ToArray());
        var direction = Enumerable.Range(0, d).Select(j => (float)probeFit.Weights[j]).ToArray();
        double norm = Math.Sqrt(direction.Sum(v => (double)v * v));
        double midpoint = -probeFit.Intercept / norm;
        var options = new JsonObject
        {
            ["datasets"] = new JsonArray(new JsonObject { ["name"] = "kinds", ["path"] = "kinds.jsonl", ["text_field"] = "sentence", ["label_field"] = "kind", ["split_field"] = "split" }),
            ["train_size"] = 120, ["test_size"] = 60,
        };
        var evaluator = new SparseProbingEvaluator();

        EvalResult Run(bool planted)
        {
            int f = 8;
            var rng = new Random(9);
            var wEnc = new HostMatrix(d, f);
            for (int j = 0; j < d; j++)
            for (int c = 0; c < f; c++) wEnc[j, c] = (float)(rng.NextDouble() - 0.5) * 0.1f;
            if (planted) for (int j = 0; j < d; j++) wEnc[j, 0] = (float)(direction[j] / norm);
            var bEnc = new float[f];
            if (planted) bEnc[0] = (float)-midpoint;
            var sae = new Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = bEnc, WDec = new HostMatrix(f, d), BDec = new float[d] });
            var context = EvalFixtures.Context(sae, model);
            var parsed = evaluator.ParseOptions(options);
            var result = SingleJob.Run(evaluator, parsed, context);
            SaeBenchSchemas.AssertValid("sparse_probing", ResultFiles.Of(evaluator, parsed, result, context));
            return result;
        }

        var withLatent = Run(planted: true);
        Assert.True(withLatent.Get("sae.sae_top_1_test_accuracy") >= 0.95, string.Join(", ", withLatent.Metrics.Select(m => $"{m.Descriptor.Id}={m.Value}")) + withLatent.Unstructured!.ToJsonString());
        Assert.True(withLatent.Get("llm.llm_test_accuracy") >= 0.95);
        Assert.Equal("kinds_results", (string)withLatent.Details.Single()["dataset_name"]!);
        var without = Run(planted: false);
        Assert.True(without.Get("sae.sae_top_1_test_accuracy") < withLatent.Get("sae.sae_top_1_test_accuracy") - 0.1);
    }

    [Fact]
    public void A_language_model_without_datasets_is_not_applicable_and_says_what_to_give()
    {
        var model = Model();
        var evaluator = new SparseProbingEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Sae.Identity(model.Info.DModel), model), evaluator.ParseOptions([])));
        Assert.Contains("datasets", e.Message);
    }

    [Fact]
    public void Unknown_dataset_names_and_missing_fields_are_named()
    {
        var evaluator = new SparseProbingEvaluator();
        var bad = Assert.ThrowsAny<Exception>(() => evaluator.ParseOptions(new JsonObject { ["dataset_names"] = new JsonArray("LabHC/bias_in_bios"), ["data_directory"] = "x" }));
        Assert.Contains("bias_in_bios_class_set1", bad.Message);
        WriteDataset("kinds.jsonl");
        var model = Model();
        var missing = Assert.ThrowsAny<Core.BadInputException>(() => LabelledDataset.Load(model.Capability<ILabelledTextSource>()!,
            new TextDatasetOptions { Path = "kinds.jsonl", TextField = "text", LabelField = "kind" }, 1));
        Assert.Contains("'text' is missing", missing.Message);
    }
}
