using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.ScrTpp;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Models;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.ScrTpp;

/// <summary>SCR and TPP on two-attribute text datasets, read by a fixture language model (SAEBench's Bias in Bios layout).</summary>
public sealed class ScrTppTextTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private IModelUnderStudy Model() => ModelCatalog.Create("hf:" + TestData.LmModel("gpt2") + ",context=16,windows=16",
        new ModelOptions { WorkingDirectory = _dir.Path, CacheActivations = false });

    /// <summary>Bias in Bios as SAEBench's loader sees it: hard_text, profession (integer code), gender (0 male, 1 female), split.
    /// Professors (21) and nurses (13) with words for each, and gendered pronouns.</summary>
    private void WriteBiasInBios()
    {
        Directory.CreateDirectory(_dir.File("data"));
        var rng = new Random(3);
        string[] filler = ["and", "of", "in", "to", "is", "for", "on"];
        using var w = new StreamWriter(_dir.File("data/LabHC__bias_in_bios_class_set1.jsonl"));
        for (int i = 0; i < 320; i++)
        {
            bool professor = i % 2 == 0, male = i / 2 % 2 == 0;
            var words = Enumerable.Range(0, 4).Select(_ => filler[rng.Next(filler.Length)]).ToList();
            words.Insert(rng.Next(words.Count), professor ? "lecture" : "ward");
            words.Insert(rng.Next(words.Count), male ? "he" : "she");
            w.WriteLine(JsonSerializer.Serialize(new
            {
                hard_text = string.Join(' ', words), profession = professor ? 21 : 13, gender = male ? 0 : 1, split = i < 240 ? "train" : "test",
            }));
        }
    }

    private static EvalResult Run(IEvaluator evaluator, JsonObject options, IModelUnderStudy model, out JsonObject file)
    {
        var parsed = evaluator.ParseOptions(options);
        var context = EvalFixtures.Context(Sae.Identity(model.Info.DModel), model, batchRows: 256);
        var result = SingleJob.Run(evaluator, parsed, context);
        file = ResultFiles.Of(evaluator, parsed, result, context);
        return result;
    }

    [Fact]
    public void Scr_runs_on_saebench_dataset_names_with_its_pair_names_and_validates()
    {
        WriteBiasInBios();
        var model = Model();
        var result = Run(new ScrEvaluator(), new JsonObject
        {
            ["dataset_names"] = new JsonArray("LabHC/bias_in_bios_class_set1"), ["data_directory"] = _dir.File("data"),
            ["column1_vals_lookup"] = new JsonObject { ["LabHC/bias_in_bios_class_set1"] = new JsonArray(new JsonArray("professor", "nurse")) },
            ["train_set_size"] = 120, ["test_set_size"] = 60, ["n_values"] = new JsonArray(2, 5, 10, 500), ["probe_epochs"] = 5,
        }, model, out var file);
        var run = (JsonObject)((JsonArray)result.Unstructured!["runs"]!).Single()!;
        Assert.Equal("LabHC/bias_in_bios_class_set1_scr_professor_nurse_results", (string)run["dataset_name"]!);
        // q = 120/4: 2q of the concordant quadrants (the biased probe's data), q of the others; 60 rows per quadrant exist.
        Assert.Equal([60, 30, 30, 60], ((JsonArray)run["train_quadrants"]!).Select(v => (int)v!));
        Assert.Equal([20, 15, 15, 20], ((JsonArray)run["test_quadrants"]!).Select(v => (int)v!)); // 20 test rows per quadrant
        Assert.Null(result.Get("scr_metrics.scr_dir1_threshold_500")); // wider than the identity SAE's 48 latents
        SaeBenchSchemas.AssertValid("scr", file);
    }

    [Fact]
    public void Tpp_runs_on_a_dataset_given_by_path_and_validates()
    {
        WriteBiasInBios();
        var model = Model();
        var result = Run(new TppEvaluator(), new JsonObject
        {
            ["datasets"] = new JsonArray(new JsonObject
            {
                ["name"] = "bios", ["path"] = "data/LabHC__bias_in_bios_class_set1.jsonl", ["text_field"] = "hard_text", ["column1_field"] = "profession",
                ["classes"] = new JsonArray("21", "13"),
            }),
            ["train_set_size"] = 120, ["test_set_size"] = 60, ["n_values"] = new JsonArray(2, 5), ["probe_epochs"] = 5,
        }, model, out var file);
        Assert.NotNull(result.Get("tpp_metrics.tpp_threshold_2_total_metric"));
        Assert.Equal("bios_tpp_results", (string)Assert.Single(result.Details)["dataset_name"]!);
        Assert.Equal(2, ((JsonObject)result.Unstructured!["bios"]!).Count);
        SaeBenchSchemas.AssertValid("tpp", file);
    }

    [Fact]
    public void A_language_model_without_datasets_is_not_applicable_and_says_what_to_give()
    {
        var model = Model();
        foreach (IEvaluator evaluator in new IEvaluator[] { new ScrEvaluator(), new TppEvaluator() })
        {
            var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Sae.Identity(model.Info.DModel), model), evaluator.ParseOptions([])));
            Assert.Contains("dataset_names", e.Message);
        }
    }
}
