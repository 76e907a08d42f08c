using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Autointerp;

/// <summary>Options of the <c>autointerp</c> evaluator (see README.md).</summary>
public sealed record AutointerpOptions : EvaluatorOptions
{
    public const string OfflineJudge = LabelCoverExplainer.OfflineName;
    public const string ChatJudgeName = "openai-chat";

    /// <summary>Alive latents explained and judged (a seeded sample).</summary>
    public int NLatents { get; init; } = 50;

    /// <summary>Test-split examples (the first ones) that examples are drawn from; 0 = all.</summary>
    public int MaxExamples { get; init; } = 10_000;

    /// <summary><c>offline-label-cover</c> (default, deterministic, no network) or <c>openai-chat</c>.</summary>
    public string Judge { get; init; } = OfflineJudge;

    /// <summary>Share of the generation examples' activation mass the offline explanation's labels must cover.</summary>
    public double LabelCoverage { get; init; } = 0.8;

    /// <summary>openai-chat: base URL of an OpenAI-compatible API (requests go to <c>{endpoint}/chat/completions</c>).</summary>
    public string? Endpoint { get; init; }

    /// <summary>openai-chat: the model name sent in each request.</summary>
    public string? Model { get; init; }

    /// <summary>openai-chat: the key itself (written as "***" in results); prefer <see cref="ApiKeyEnv"/>.</summary>
    [JsonConverter(typeof(RedactedStringConverter))]
    public string? ApiKey { get; init; }

    /// <summary>openai-chat: name of the environment variable holding the key.</summary>
    public string? ApiKeyEnv { get; init; }

    public double TimeoutSeconds { get; init; } = 60;
    public int MaxRetries { get; init; } = 4;
    public double RetryBaseDelaySeconds { get; init; } = 1;

    public override IEnumerable<string> Validate()
    {
        if (NLatents < 1) yield return $"n_latents: {NLatents} must be ≥ 1.";
        if (MaxExamples < 0) yield return $"max_examples: {MaxExamples} must be ≥ 0 (0 = all).";
        if (!(LabelCoverage > 0 && LabelCoverage <= 1)) yield return $"label_coverage: {LabelCoverage} must be in (0, 1].";
        if (!(TimeoutSeconds > 0) || !double.IsFinite(TimeoutSeconds)) yield return $"timeout_seconds: {TimeoutSeconds} must be positive.";
        if (MaxRetries < 0) yield return $"max_retries: {MaxRetries} must be ≥ 0.";
        if (!(RetryBaseDelaySeconds >= 0) || !double.IsFinite(RetryBaseDelaySeconds)) yield return $"retry_base_delay_seconds: {RetryBaseDelaySeconds} must be ≥ 0.";
        if (Judge == ChatJudgeName)
        {
            if (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                yield return $"endpoint: '{Endpoint}' must be an absolute http(s) URL when judge is {ChatJudgeName}.";
            if (string.IsNullOrWhiteSpace(Model)) yield return $"model: required when judge is {ChatJudgeName}.";
            if (ApiKey is not null && ApiKeyEnv is not null) yield return "api_key, api_key_env: give one, not both.";
        }
        else if (Judge != OfflineJudge)
            yield return $"judge: '{Judge}' is not one of {OfflineJudge}, {ChatJudgeName}.";
    }
}

/// <summary>Reads a string as is; writes "***" for any non-null value so keys never reach result files.</summary>
public sealed class RedactedStringConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null : reader.GetString();

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue("***");
    }

    public override bool HandleNull => true;
}

/// <summary>
/// Autointerp (METRICS.md <c>autointerp</c>): an explainer describes each sampled latent from its top and
/// importance-sampled examples and a judge predicts which of 14 shuffled examples it is active on.
/// </summary>
public sealed class AutointerpEvaluator : Evaluator<AutointerpOptions>
{
    /// <summary>Mixed into the run seed for the latent sample and the per-latent example draws.</summary>
    public const int SeedSalt = 0x61757469; // "auti"

    public override EvaluatorInfo Info { get; } = new("autointerp", "Autointerp",
        "Explains sampled latents from their top examples and scores a judge's predictions of where they are active.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, AutointerpOptions options)
    {
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why)) throw new NotApplicableException(why + " (examples are described by their class)");
        var classNames = tasks.Tasks.ClassNames;
        if (options.Judge == AutointerpOptions.OfflineJudge)
            return new Job(context, options, classNames, new LabelCoverExplainer(classNames, options.LabelCoverage), new LabelCoverJudge(), null);

        string? key = options.ApiKey;
        if (options.ApiKeyEnv is { } env)
        {
            key = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(key)) throw new ConfigException($"evaluator 'autointerp': api_key_env: environment variable '{env}' is not set.");
        }
        var client = new ChatCompletionsClient(new ChatSettings(new Uri(options.Endpoint!), options.Model!, key,
            TimeSpan.FromSeconds(options.TimeoutSeconds), options.MaxRetries, TimeSpan.FromSeconds(options.RetryBaseDelaySeconds)));
        string name = $"{AutointerpOptions.ChatJudgeName}:{options.Model}";
        var sampling = ExampleSamplingOptions.Default;
        return new Job(context, options, classNames, new ChatExplainer(client, name),
            new ChatJudge(client, name, sampling.TopForScoring + sampling.ImportanceForScoring), client);
    }

    private sealed class Job(EvaluationContext context, AutointerpOptions options, IReadOnlyList<string> classNames,
        IExplainer explainer, IJudge judge, IDisposable? owned) : IEvaluationJob
    {
        private readonly FiringCounts _firing = new(context.Sae.DSae);

        public void Observe(SaeBatch batch) => _firing.Add(batch);

        public EvalResult Complete(CancellationToken cancellation)
        {
            try
            {
                return Run(cancellation);
            }
            finally
            {
                owned?.Dispose();
            }
        }

        private EvalResult Run(CancellationToken cancellation)
        {
            int seed = unchecked(context.Seed ^ AutointerpEvaluator.SeedSalt);
            var rates = _firing.Rates();
            var alive = Enumerable.Range(0, rates.Length).Where(j => rates[j] > 0).ToArray();
            var latents = ExampleSampling.SampleLatents(alive, options.NLatents, seed);

            // Second pass: one value per example (the latent's largest activation over the example's valid positions)
            // for the sampled latents only — memory examples × n_latents.
            int examples = context.Model.Activations(Split.Test).Shape.Examples;
            if (options.MaxExamples > 0) examples = Math.Min(examples, options.MaxExamples);
            var perExample = latents.Select(_ => new float[examples]).ToArray();
            var labels = Enumerable.Repeat(-1, examples).ToArray();
            var seen = new bool[examples];
            if (latents.Length > 0)
            {
                foreach (var batch in context.Encode(Split.Test, 0..examples, decode: false))
                {
                    cancellation.ThrowIfCancellationRequested();
                    var src = batch.Source;
                    for (int r = 0; r < batch.Rows; r++)
                    {
                        if (!src.Valid[r]) continue;
                        int e = src.ExampleIndex[r];
                        var code = batch.F.Row(r);
                        if (!seen[e]) { seen[e] = true; labels[e] = src.Label[r]; for (int i = 0; i < latents.Length; i++) perExample[i][e] = code[latents[i]]; }
                        else for (int i = 0; i < latents.Length; i++) perExample[i][e] = Math.Max(perExample[i][e], code[latents[i]]);
                    }
                }
            }

            var scores = new List<double>();
            var details = new List<JsonObject>();
            for (int i = 0; i < latents.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                int latent = latents[i];
                var acts = perExample[i];
                var chosen = ExampleSampling.Select(acts, ExampleSampling.LatentSeed(seed, latent));
                var generation = chosen.Generation.Select(e => new GenerationExample(e, labels[e], ExampleText.Render(labels[e], classNames), acts[e])).ToArray();
                var scoring = chosen.Scoring.Select(s => new JudgeExample(s.Index, labels[s.Index], ExampleText.Render(labels[s.Index], classNames))).ToArray();
                string explanation = explainer.Explain(latent, generation, cancellation);
                double? score;
                string? error = null;
                IReadOnlyCollection<int> predicted = [];
                try
                {
                    predicted = judge.PredictActive(explanation, scoring, cancellation);
                    double s = ExampleSampling.Score(chosen.Scoring, predicted);
                    score = double.IsFinite(s) ? s : null;
                }
                catch (ChatReplyFormatException e)
                {
                    score = null;
                    error = e.Message;
                }
                if (score is double v) scores.Add(v);
                details.Add(new JsonObject
                {
                    ["latent"] = latent,
                    ["score"] = score,
                    ["explanation"] = explanation,
                    ["top_activation"] = chosen.TopActivation,
                    ["density"] = rates[latent],
                    ["generation_examples"] = new JsonArray(chosen.Generation.Select(e => (JsonNode)e).ToArray()),
                    ["scoring_examples"] = new JsonArray(chosen.Scoring.Select(s => (JsonNode)s.Index).ToArray()),
                    ["scoring_active"] = new JsonArray(chosen.Scoring.Select(s => (JsonNode)s.Active).ToArray()),
                    ["predicted_active"] = new JsonArray(predicted.Select(p => (JsonNode)p).ToArray()),
                    ["error"] = error,
                });
            }

            var values = scores.ToArray();
            var metrics = new List<MetricValue>
            {
                new(AutointerpMetrics.Score, values.Length > 0 ? Stats.Mean(values) : null),
                new(AutointerpMetrics.StdDev, values.Length > 1 ? Stats.SampleStdDev(values) : null),
            };
            var unstructured = new JsonObject
            {
                ["explainer"] = explainer.Name,
                ["judge"] = judge.Name,
                ["latents_alive"] = alive.Length,
                ["latents_sampled"] = latents.Length,
                ["latents_scored"] = values.Length,
                ["examples"] = examples,
            };
            return new EvalResult(metrics, details, unstructured);
        }
    }
}

/// <summary>Descriptors of the autointerp metrics (SAEBench's names).</summary>
public static class AutointerpMetrics
{
    public static readonly MetricDescriptor Score = new("autointerp", "autointerp_score", "Autointerp score", "fraction", true);
    public static readonly MetricDescriptor StdDev = new("autointerp", "autointerp_std_dev", "Autointerp score std. dev.", "fraction", null);
}
