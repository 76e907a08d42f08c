using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Evals.Unlearning;
using SaeBench.Models.Language.Data;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Unlearning;

/// <summary>
/// Unlearning on a language model, on a world whose answer is known: a bag-of-words model whose hook at the last prompt
/// position sums the prompt's word embeddings, and whose head reads answer A from direction 0 and answer B from direction 3.
/// Biology words embed on directions 0 and 1 (so biology questions are answered A); history words on directions 2 and 3
/// (history questions are answered B). An SAE with a latent per direction lets unlearning clamp the biology latents
/// negative: biology questions are no longer answered A, history questions are untouched — the score is 1. An SAE
/// without latents on the biology directions can change nothing on biology questions: the score is 0.
/// </summary>
public sealed class TextUnlearningTests : IDisposable
{
    private const int D = 6;
    private static readonly string[] Bio = ["virus", "pathogen", "toxin", "spore", "protein"];
    private static readonly string[] History = ["king", "empire", "treaty", "battle", "dynasty"];
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private FakeTextModel Model()
    {
        FakeTextModel? model = null;
        var words = Bio.Concat(History).Append("A").Append("B").Append("C").Append("D").ToArray();
        float[] Embed(int id)
        {
            var e = new float[D];
            var word = model!.TokenText(id)?.Trim();
            if (Bio.Contains(word)) { e[0] = 1; e[1] = 1; }
            if (History.Contains(word)) { e[2] = 1; e[3] = 1; }
            return e;
        }
        model = new FakeTextModel(words, D, Embed)
        {
            Cumulative = true,
            Readout = (h, id) => id == model!.IdOf("A") ? 4 * h[0] : id == model.IdOf("B") ? 4 * h[3] : 0,
            Files = new Local(_dir.Path),
        };
        return model;
    }

    private sealed class Local(string root) : ILabelledTextSource
    {
        public LabelledTexts Read(LabelledTextRequest request) => LabelledTextFiles.Read(request with { Path = Path.Combine(root, request.Path) });

        public IReadOnlyList<JsonObject> Records(string path) => LabelledTextFiles.Records(Path.Combine(root, path));

        public JsonNode? JsonFile(string path) => LabelledTextFiles.JsonFile(Path.Combine(root, path));
    }

    private void WriteData()
    {
        var rng = new Random(3);
        string Doc(string[] topic) => string.Join(' ', Enumerable.Range(0, 20).Select(_ => topic[rng.Next(topic.Length)]));
        File.WriteAllLines(_dir.File("forget.jsonl"), Enumerable.Range(0, 12).Select(_ => JsonSerializer.Serialize(new { text = Doc(Bio) })));
        File.WriteAllLines(_dir.File("retain.jsonl"), Enumerable.Range(0, 12).Select(_ => JsonSerializer.Serialize(new { text = Doc(History) })));
        string Question(string[] topic, int answer, string subject) => JsonSerializer.Serialize(new
        {
            question = $"which {topic[rng.Next(topic.Length)]} {topic[rng.Next(topic.Length)]} ?",
            choices = new[] { "one", "two", "three", "four" }, answer, subject,
        });
        File.WriteAllLines(_dir.File("bio.jsonl"), Enumerable.Range(0, 10).Select(_ => Question(Bio, 0, "college_biology")));
        File.WriteAllLines(_dir.File("history.jsonl"), Enumerable.Range(0, 10).Select(_ => Question(History, 1, "world_history")));
    }

    private static JsonObject Options() => new()
    {
        ["forget_corpus"] = "forget.jsonl", ["retain_corpus"] = "retain.jsonl",
        ["forget_questions"] = "bio.jsonl", ["retain_questions"] = new JsonArray("history.jsonl"),
        ["seq_len"] = 16, ["dataset_size"] = 8, ["require_all_permutations"] = false,
        ["retain_thresholds"] = new JsonArray(0.01), ["n_features_list"] = new JsonArray(2), ["multipliers"] = new JsonArray(5.0),
    };

    /// <summary>A ReLU SAE with one unit latent per listed direction.</summary>
    private static Sae Sae(params int[] directions)
    {
        int f = directions.Length;
        var wEnc = new HostMatrix(D, f);
        var wDec = new HostMatrix(f, D);
        for (int c = 0; c < f; c++) { wEnc[directions[c], c] = 1; wDec[c, directions[c]] = 1; }
        return new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = wEnc, BEnc = new float[f], WDec = wDec, BDec = new float[D] });
    }

    private EvalResult Run(Sae sae, Action<JsonObject>? change = null)
    {
        WriteData();
        var model = Model();
        var evaluator = new UnlearningEvaluator();
        var options = Options();
        change?.Invoke(options);
        var parsed = evaluator.ParseOptions(options);
        var context = EvalFixtures.Context(sae, model);
        var result = SingleJob.Run(evaluator, parsed, context);
        SaeBenchSchemas.AssertValid("unlearning", ResultFiles.Of(evaluator, parsed, result, context));
        return result;
    }

    [Fact]
    public void Clamping_latents_that_carry_the_forget_topic_unlearns_it_and_keeps_the_rest()
    {
        var result = Run(Sae(0, 1, 2, 3, 4, 5));
        Assert.Equal(10, (int)result.Unstructured!["forget_questions_correct"]!);
        Assert.Equal(10, (int)result.Unstructured!["retain_questions_correct"]!);
        var config = result.Details.Single();
        // The two latents that fire on the forget corpus and never on the retain corpus: the biology directions.
        Assert.Equal([0, 1], config["latents"]!.AsArray().Select(n => (int)n!).Order());
        Assert.Equal(0.0, (double)config["forget_accuracy"]!);
        Assert.Equal(1.0, (double)config["retain_accuracy"]!);
        Assert.Equal(1.0, result.Get("unlearning.unlearning_score")!.Value, 9);
    }

    [Fact]
    public void Without_latents_on_the_forget_topic_nothing_is_unlearned()
    {
        var result = Run(Sae(2, 3, 4, 5));
        Assert.Equal(1.0, (double)result.Details.Single()["forget_accuracy"]!);
        Assert.Equal(0.0, result.Get("unlearning.unlearning_score")!.Value, 9);
    }

    /// <summary>This model answers from the question's words only, so it is right under one ordering of the choices and
    /// wrong under the others: SAEBench's rule (correct under all 24 orderings) keeps no question, and the evaluation is
    /// not applicable, saying why.</summary>
    [Fact]
    public void A_model_that_ignores_the_choices_keeps_no_question_under_all_orderings()
    {
        var e = Assert.Throws<NotApplicableException>(() => Run(Sae(0, 1, 2, 3), o => o["require_all_permutations"] = true));
        Assert.Contains("answers 0 of 10 forget questions", e.Message);
        Assert.Contains("every ordering", e.Message);
    }

    [Fact]
    public void The_prompt_is_SAEBench_wording()
    {
        var q = new ChoiceQuestion("What is a virus?", ["a", "b"], 0, "college_biology");
        Assert.Equal("The following are multiple choice questions (with answers) about college biology.\nWhat is a virus?\nA. a\nB. b\nAnswer:",
            UnlearningPrompts.Of(q, "plain"));
        Assert.EndsWith("<end_of_turn>\n<start_of_turn>model\nAnswer: (", UnlearningPrompts.Of(q, "gemma-chat"));
    }

    [Fact]
    public void A_language_model_without_corpora_is_not_applicable_and_half_given_files_are_refused()
    {
        var evaluator = new UnlearningEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Sae(0), Model()), evaluator.ParseOptions([])));
        Assert.Contains("forget_corpus", e.Message);
        var bad = Assert.ThrowsAny<ConfigException>(() => evaluator.ParseOptions(new JsonObject { ["forget_corpus"] = "forget.jsonl" }));
        Assert.Contains("retain_questions", bad.Message);
    }
}
