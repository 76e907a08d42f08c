using SaeBench.Core.Models;
using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Autointerp;

namespace SaeBench.Evals.Tests.Autointerp;

[Collection(LoopbackServerCollection.Name)]
public class AutointerpEvaluatorTests
{
    private static readonly string[] Classes = ["zero", "one", "two", "three"];

    /// <summary>
    /// 400 examples, 100 per class; an example of class c is a_e·e_c with a_e in [0.5, 1]. A fifth input dimension
    /// carries 1.0 on class 0 and 0.05 on class 1 (a latent that fires on two classes, one of them weakly).
    /// </summary>
    private static (FakeModel Model, Sae Sae) World(bool labelled = true)
    {
        const int n = 400, d = 5;
        var x = new float[n, d];
        var labels = new int[n];
        for (int e = 0; e < n; e++)
        {
            int c = e % 4;
            labels[e] = c;
            x[e, c] = 0.5f + 0.5f * ((e * 37) % 100) / 99f;
            if (c == 0) x[e, 4] = 1.0f;
            if (c == 1) x[e, 4] = 0.05f;
        }
        var eye = new HostMatrix(d, d);
        for (int i = 0; i < d; i++) eye[i, i] = 1f;
        var sae = new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[d], WDec = eye.Clone(), BDec = new float[d] });
        var builder = FakeModelBuilder.Create(d).WithSplit(Split.Train, x, labels).WithSplit(Split.Test, x, labels);
        if (labelled) builder.WithClasses(Classes);
        return (builder.Build(), sae);
    }

    private static EvaluationContext Context(FakeModel model, Sae sae, int seed = 3) =>
        new(sae, "id", new Dictionary<string, string>(), model, CpuBackend.Create(), seed, 64, TimeProvider.System);

    [Fact]
    public void Offline_judge_scores_latents_that_fire_on_exactly_one_class_perfectly()
    {
        var (model, sae) = World();
        var evaluator = new AutointerpEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["n_latents"] = 10 });
        var r = SingleJob.Run(evaluator, options, Context(model, sae));

        Assert.Equal("offline", (string)options.ToJson()["judge"]!);
        Assert.Equal("offline-label-cover", (string)r.Unstructured!["judge"]!);
        Assert.Equal("offline-label-cover", (string)r.Unstructured!["explainer"]!);
        Assert.Equal(5, r.Details.Count); // all 5 latents are alive; n_latents caps at what there is
        foreach (var row in r.Details.Where(row => (int)row["latent"]! < 4))
        {
            int latent = (int)row["latent"]!;
            Assert.Equal($"classes [{latent}]: {Classes[latent]}", (string)row["explanation"]!);
            Assert.Equal(1.0, (double)row["score"]!);
            Assert.Equal(14, row["scoring_examples"]!.AsArray().Count);
        }
        // Latent 4 fires on class 0 (1.0) and weakly on class 1 (0.05 > 1% of the top): the explanation covers only
        // class 0, so the judge misses the active class-1 examples among the random ones.
        var mixed = r.Details.Single(row => (int)row["latent"]! == 4);
        Assert.Equal("classes [0]: zero", (string)mixed["explanation"]!);
        double mixedScore = (double)mixed["score"]!;
        Assert.True(mixedScore < 1.0, $"score {mixedScore}");

        // The metrics are the mean and sample standard deviation of the per-latent scores.
        var scores = new[] { 1.0, 1, 1, 1, mixedScore };
        double mean = scores.Average();
        // Named so that no one reads them as an LLM judge's score (SAEBench's autointerp_score is absent).
        Assert.Equal(mean, r.Get("autointerp.offline_judge_score")!.Value, 12);
        double sd = Math.Sqrt(scores.Sum(s => (s - mean) * (s - mean)) / (scores.Length - 1));
        Assert.Equal(sd, r.Get("autointerp.offline_judge_std_dev")!.Value, 12);
        Assert.Null(r.Get("autointerp.autointerp_score"));
    }

    [Fact]
    public void Same_seed_same_result_and_the_latent_sample_follows_the_seed()
    {
        var (model, sae) = World();
        var evaluator = new AutointerpEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["n_latents"] = 2 });
        var a = SingleJob.Run(evaluator, options, Context(model, sae, seed: 1));
        var b = SingleJob.Run(evaluator, options, Context(model, sae, seed: 1));
        Assert.Equal(a.Details.Select(d => d.ToJsonString()), b.Details.Select(d => d.ToJsonString()));
        var latentSets = Enumerable.Range(0, 12)
            .Select(s => string.Join(",", SingleJob.Run(evaluator, options, Context(model, sae, seed: s)).Details.Select(d => (int)d["latent"]!)))
            .Distinct().Count();
        Assert.True(latentSets > 1);
    }

    [Fact]
    public void Dead_latents_are_never_sampled()
    {
        var (model, sae) = World();
        sae.Parameters.BEnc[2] = -10f; // latent 2 never fires
        var evaluator = new AutointerpEvaluator();
        var r = SingleJob.Run(evaluator, evaluator.ParseOptions(new JsonObject { ["n_latents"] = 5 }), Context(model, sae));
        Assert.Equal([0, 1, 3, 4], r.Details.Select(d => (int)d["latent"]!));
        Assert.Equal(4, (int)r.Unstructured!["latents_alive"]!);
    }

    [Fact]
    public void Without_labels_it_is_not_applicable()
    {
        var (model, sae) = World(labelled: false);
        var evaluator = new AutointerpEvaluator();
        Assert.Throws<NotApplicableException>(() => evaluator.Start(Context(model, sae), evaluator.ParseOptions(new JsonObject())));
    }

    [Fact]
    public void Chat_judge_runs_through_the_evaluator_against_a_local_server_and_the_key_never_reaches_the_results()
    {
        using var server = new FakeChatServer((_, request) =>
        {
            string system = (string)JsonNode.Parse(request.Body)!["messages"]![0]!["content"]!;
            return new FakeReply(200, FakeChatServer.Completion(system.Contains("comma-separated") ? "1, 2" : "class zero"));
        });
        var (model, sae) = World();
        var evaluator = new AutointerpEvaluator();
        var options = evaluator.ParseOptions(new JsonObject
        {
            ["n_latents"] = 2,
            ["judge"] = "openai-chat",
            ["endpoint"] = server.BaseUrl.ToString(),
            ["model"] = "test-model",
            ["api_key"] = "sk-secret",
            ["retry_base_delay_seconds"] = 0.01,
            ["timeout_seconds"] = 5,
        });
        var r = SingleJob.Run(evaluator, options, Context(model, sae));

        Assert.Equal(4, server.Requests.Count); // explain + judge per latent
        Assert.All(server.Requests, q => Assert.Equal("Bearer sk-secret", q.Headers["Authorization"]));
        Assert.Equal("openai-chat:test-model", (string)r.Unstructured!["judge"]!);
        Assert.All(r.Details, d => Assert.Equal("class zero", (string)d["explanation"]!));
        Assert.All(r.Details, d => Assert.Equal([0, 1], d["predicted_active"]!.AsArray().Select(p => (int)p!)));
        Assert.NotNull(r.Get("autointerp.autointerp_score"));
        Assert.Null(r.Get("autointerp.offline_judge_score"));
        SaeBenchSchemas.AssertValid("autointerp", Schemas.ResultFiles.Of(evaluator, options, r, Context(model, sae)));
        Assert.Equal("***", (string)options.ToJson()["api_key"]!);
        Assert.DoesNotContain("sk-secret", options.ToJson().ToJsonString());
    }

    [Theory]
    [InlineData("{\"judge\":\"gpt\"}", "judge")]
    [InlineData("{\"judge\":\"openai-chat\",\"model\":\"m\"}", "endpoint")]
    [InlineData("{\"judge\":\"openai-chat\",\"endpoint\":\"http://127.0.0.1:1/v1\"}", "model")]
    [InlineData("{\"n_latents\":0}", "n_latents")]
    public void Invalid_options_name_the_field(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => new AutointerpEvaluator().ParseOptions(JsonNode.Parse(json)!.AsObject()));
        Assert.Contains(field, e.Message);
    }
}
