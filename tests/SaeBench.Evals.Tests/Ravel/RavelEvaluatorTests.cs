using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Evals.Ravel;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>
/// The whole evaluator on <see cref="RavelToyModel"/>, whose answers are read off one block of hook dimensions per
/// attribute. An SAE whose latents are those dimensions lets MDBM swap exactly the cause attribute's block: cause and
/// isolation are both 1. An SAE whose latents are conjunctions (country × continent) cannot move one attribute without the
/// other: every mask either fails the cause pairs or the isolation pairs, so disentanglement is at most about a half.
/// </summary>
public sealed class RavelEvaluatorTests : IDisposable
{
    private static readonly (string, string, string[])[] Attributes =
    [
        ("Country", "country", ["France", "Spain"]),
        ("Continent", "continent", ["Europe", "Asia"]),
        ("Language", "language", ["French", "Hindi"]),
    ];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Eight cities, every (country, continent, language) once.</summary>
    private static Dictionary<string, Dictionary<string, string>> Cities()
    {
        var cities = new Dictionary<string, Dictionary<string, string>>();
        for (int i = 0; i < 8; i++)
            cities[$"town{i}"] = new()
            {
                ["Country"] = (i & 1) == 0 ? "France" : "Spain",
                ["Continent"] = (i & 2) == 0 ? "Europe" : "Asia",
                ["Language"] = (i & 4) == 0 ? "French" : "Hindi",
            };
        return cities;
    }

    private RavelToyModel WriteCityData()
    {
        var cities = Cities();
        var prompts = new JsonObject
        {
            ["Country"] = new JsonArray("%s is a town in the country", "the country of %s is", "in the country where %s lies :"),
            ["Continent"] = new JsonArray("%s is on the continent", "the continent of %s is", "on which continent is %s ?"),
            ["Language"] = new JsonArray("in %s the language is", "the language of %s is", "%s speaks the language"),
        };
        File.WriteAllText(_dir.File(RavelData.PromptsFile("city")), prompts.ToJsonString());
        File.WriteAllText(_dir.File(RavelData.AttributesFile("city")), JsonSerializer.Serialize(cities));
        // The split files are carried by RAVEL and not read: even a broken one does no harm.
        File.WriteAllText(_dir.File("ravel_city_prompt_to_split.json"), "{ not json");
        File.WriteAllText(_dir.File("ravel_city_entity_to_split.json"), "{}");
        return new RavelToyModel(Attributes, cities, _dir.Path);
    }

    private static JsonObject Options() => new()
    {
        ["data_directory"] = ".",
        ["entity_attribute_selection"] = new JsonObject { ["city"] = new JsonArray("Country", "Continent"), ["nobel_prize_winner"] = new JsonArray("Field", "Gender") },
        ["llm_batch_size"] = 4,
    };

    /// <summary>A ReLU SAE over the 6 toy dimensions: latent j reads <c>relu(x·enc_j + b_j)</c> and writes <c>dec_j</c>.</summary>
    private static Sae Relu(float[][] encoder, float[] bias, float[][] decoder)
    {
        int d = encoder[0].Length, f = encoder.Length;
        var wEnc = new HostMatrix(d, f);
        var wDec = new HostMatrix(f, d);
        for (int j = 0; j < f; j++)
        for (int i = 0; i < d; i++)
        {
            wEnc[i, j] = encoder[j][i];
            wDec[j, i] = decoder[j][i];
        }
        return new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = wEnc, BEnc = bias, WDec = wDec, BDec = new float[d] });
    }

    private static float[] E(params int[] dims)
    {
        var v = new float[6];
        foreach (int i in dims) v[i] = 1;
        return v;
    }

    /// <summary>One latent per hook dimension (France, Spain, Europe, Asia, French, Hindi).</summary>
    private static Sae Aligned()
    {
        var units = Enumerable.Range(0, 6).Select(i => E(i)).ToArray();
        return Relu(units, new float[6], units);
    }

    /// <summary>Latents for the four (country, continent) conjunctions, and one per language.</summary>
    private static Sae Conjunctions()
    {
        float[][] dirs = [E(0, 2), E(1, 3), E(0, 3), E(1, 2), E(4), E(5)];
        return Relu(dirs, [-1, -1, -1, -1, 0, 0], dirs);
    }

    private (EvalResult Result, RavelToyModel Model) Run(Sae sae)
    {
        var model = WriteCityData();
        var evaluator = new RavelEvaluator();
        var options = evaluator.ParseOptions(Options());
        var context = EvalFixtures.Context(sae, model);
        var result = SingleJob.Run(evaluator, options, context);
        SaeBenchSchemas.AssertValid("ravel", ResultFiles.Of(evaluator, options, result, context));
        return (result, model);
    }

    [Fact]
    public void Latents_aligned_with_the_attributes_score_cause_and_isolation_1()
    {
        var (result, _) = Run(Aligned());
        Assert.Equal(1.0, result.Get("ravel.cause_score")!.Value, 9);
        Assert.Equal(1.0, result.Get("ravel.isolation_score")!.Value, 9);
        Assert.Equal(1.0, result.Get("ravel.disentanglement_score")!.Value, 9);
        var u = result.Unstructured!;
        // Every prompt is completed correctly by the toy model; each attribute's mask swaps its own two latents.
        Assert.Equal(48, (int)u["entity_types"]!["city"]!["prompts_kept"]!);
        Assert.Equal([0, 1], u["per_entity_attribute"]!["city_Country"]!["latents"]!.AsArray().Select(n => (int)n!));
        Assert.Equal([2, 3], u["per_entity_attribute"]!["city_Continent"]!["latents"]!.AsArray().Select(n => (int)n!));
        Assert.Contains(u["skipped"]!.AsArray(), n => ((string)n!).StartsWith("nobel_prize_winner:", StringComparison.Ordinal));
    }

    [Fact]
    public void Conjunction_latents_cannot_move_one_attribute_alone()
    {
        var (result, _) = Run(Conjunctions());
        // Swapping a conjunction moves country and continent together: cause pairs need it, isolation pairs (of the
        // other attribute) forbid it. Whatever the mask, one of the two scores is lost on most pairs.
        Assert.True(result.Get("ravel.disentanglement_score")!.Value <= 0.75, $"disentanglement {result.Get("ravel.disentanglement_score")!.Value}");
    }

    [Fact]
    public void The_result_is_reproducible_for_a_seed()
    {
        var a = Run(Conjunctions()).Result;
        var b = Run(Conjunctions()).Result;
        Assert.Equal(a.Unstructured!.ToJsonString(), b.Unstructured!.ToJsonString());
    }

    [Fact]
    public void Without_data_directory_a_language_model_is_not_applicable()
    {
        var evaluator = new RavelEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Aligned(), WriteCityData()), evaluator.ParseOptions([])));
        Assert.Contains("data_directory", e.Message);
    }

    [Fact]
    public void A_folder_without_RAVEL_files_is_not_applicable_naming_them()
    {
        var model = new RavelToyModel(Attributes, Cities(), _dir.Path);
        var evaluator = new RavelEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Aligned(), model), evaluator.ParseOptions(Options())));
        Assert.Contains("ravel_city_attribute_to_prompts.json", e.Message);
        Assert.Contains("ravel_nobel_prize_winner_entity_attributes.json", e.Message);
    }

    [Fact]
    public void A_model_without_text_is_not_applicable()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld);
        var evaluator = new RavelEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(EvalFixtures.Oracle(world), world), evaluator.ParseOptions(Options())));
        Assert.Contains("language model", e.Message);
    }

    [Fact]
    public void A_language_model_without_interventions_is_not_applicable()
    {
        WriteCityData();
        var model = new FakeTextModel(["a"], 6, _ => new float[6]) { Files = new RavelToyModel(Attributes, Cities(), _dir.Path) };
        var evaluator = new RavelEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Aligned(), model), evaluator.ParseOptions(Options())));
        Assert.Contains("greedy generation", e.Message);
    }

    [Fact]
    public void A_language_model_without_a_hook_gradient_is_not_applicable_saying_so()
    {
        WriteCityData();
        var model = new RavelToyModel(Attributes, Cities(), _dir.Path) { WithoutGradient = true };
        var evaluator = new RavelEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Aligned(), model), evaluator.ParseOptions(Options())));
        Assert.Contains("gradient of the next-token loss", e.Message);
    }

    [Fact]
    public void Options_are_checked_and_default_to_SAEBench()
    {
        var evaluator = new RavelEvaluator();
        var defaults = (RavelOptions)evaluator.ParseOptions([]);
        Assert.Equal(["Country", "Continent", "Language"], defaults.EntityAttributeSelection["city"]);
        Assert.Equal(["Country of Birth", "Field", "Gender"], defaults.EntityAttributeSelection["nobel_prize_winner"]);
        Assert.Equal((500, 5000, 0.7, 1e-3, 2, 6), (defaults.TopNEntities, defaults.NumPairsPerAttribute, defaults.TrainTestSplit, defaults.LearningRate, defaults.NumEpochs, defaults.NGeneratedTokens));
        var e = Assert.ThrowsAny<Core.Configuration.ConfigException>(() => evaluator.ParseOptions(new JsonObject { ["entity_attribute_selection"] = new JsonObject { ["city"] = new JsonArray("Country") } }));
        Assert.Contains("at least two attributes", e.Message);
        Assert.ThrowsAny<Core.Configuration.ConfigException>(() => evaluator.ParseOptions(new JsonObject { ["train_test_split"] = 1.0 }));
    }

    [Fact]
    public void Data_errors_name_the_file_and_the_field()
    {
        WriteCityData();
        var files = new RavelToyModel(Attributes, Cities(), _dir.Path);
        BadInputException Load(string prompts, string values, params string[] attributes)
        {
            File.WriteAllText(_dir.File(RavelData.PromptsFile("x")), prompts);
            File.WriteAllText(_dir.File(RavelData.AttributesFile("x")), values);
            return Assert.ThrowsAny<BadInputException>(() => RavelData.Load(files, ".", "x", attributes.Length > 0 ? attributes : ["A", "B"], out _));
        }
        const string Good = "{\"A\": [\"%s a\"], \"B\": [\"b %s\"]}";
        var e = Load("{\"A\": [\"%s a\"]}", "{}");
        Assert.Contains("ravel_x_attribute_to_prompts.json", e.Message);
        Assert.Contains("'B'", e.Message);
        e = Load("{\"A\": [\"%s a\", 3], \"B\": []}", "{}");
        Assert.Contains("field 'A', template 1", e.Message);
        e = Load("{\"A\": [\"no placeholder\"], \"B\": []}", "{}");
        Assert.Contains("0 '%s' placeholders", e.Message);
        e = Load(Good, "{\"paris\": {\"A\": 1}}");
        Assert.Contains("ravel_x_entity_attributes.json", e.Message);
        Assert.Contains("'paris'.'A'", e.Message);
        e = Load(Good, "{\"paris\": [\"A\"]}");
        Assert.Contains("field 'paris'", e.Message);
        e = Load(Good, "{\"paris\": {}, \"paris\": {}}");
        Assert.Contains("ravel_x_entity_attributes.json", e.Message); // duplicate keys refused by the strict reader
        e = Load("[1, 2]", "{}");
        Assert.Contains("expected a JSON object", e.Message);
    }

    [Fact]
    public void Prompts_put_the_entity_position_on_the_last_entity_token()
    {
        var model = new RavelToyModel(Attributes, Cities(), _dir.Path);
        var data = new RavelEntityData("city", new Dictionary<string, IReadOnlyList<string>> { ["Country"] = ["the country of %s is"] },
            [("town3", new Dictionary<string, string> { ["Country"] = "Spain" })]);
        var p = Assert.Single(RavelPrompts.Build(data, model, 64, 6));
        Assert.Equal("the country of town3 is", p.Text);
        // <bos> the country of town3 is: the entity is token 4.
        Assert.Equal(6, p.Ids.Length);
        Assert.Equal(4, p.Position);
        Assert.Equal(" town3", model.TokenText(p.Ids[p.Position]));
        Assert.Equal(("the country of ", " is"), RavelData.Split("the country of %s is"));
        Assert.Equal(("100% ", " x"), RavelData.Split("100%% %s x"));
    }
}
