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
    /// <summary>The offline stand-in that fits the model: label cover for classifiers, token cover for language models.</summary>
    public const string OfflineJudge = "offline";
    public const string ChatJudgeName = "openai-chat";

    /// <summary>Alive latents explained and judged (a seeded sample).</summary>
    public int NLatents { get; init; } = 50;

    /// <summary>Test-split examples (the first ones) that examples are drawn from; 0 = all.</summary>
    public int MaxExamples { get; init; } = 10_000;

    /// <summary><c>offline</c> (default: deterministic, no network; <c>offline-label-cover</c> on classifiers,
    /// <c>offline-token-cover</c> on language models), one of those two by name, or <c>openai-chat</c>.</summary>
    public string Judge { get; init; } = OfflineJudge;

    /// <summary>A latent is alive, and can be explained, when it fires on more than this many counted tokens
    /// (SAEBench's dead_latent_threshold: its top and importance-weighted sets need that many).</summary>
    public int DeadLatentThreshold { get; init; } = 15;

    /// <summary>Tokens on each side of a context window's centre (SAEBench's buffer).</summary>
    public int Buffer { get; init; } = 10;

    /// <summary>A token is active when its activation exceeds this fraction of the latent's top activation.</summary>
    public double ActThresholdFrac { get; init; } = 0.01;

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
        else if (Judge is not (OfflineJudge or LabelCoverExplainer.OfflineName or TokenCoverExplainer.OfflineName))
            yield return $"judge: '{Judge}' is not one of {OfflineJudge}, {LabelCoverExplainer.OfflineName}, {TokenCoverExplainer.OfflineName}, {ChatJudgeName}.";
        if (DeadLatentThreshold < 0) yield return $"dead_latent_threshold: {DeadLatentThreshold} must be ≥ 0.";
        if (Buffer < 0) yield return $"buffer: {Buffer} must be ≥ 0.";
        if (!(ActThresholdFrac >= 0 && ActThresholdFrac < 1)) yield return $"act_threshold_frac: {ActThresholdFrac} must be in [0, 1).";
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
        "Explains sampled latents from their top examples and scores a judge's predictions of where they are active.", Version: "2");

    protected override IEvaluationJob Start(EvaluationContext context, AutointerpOptions options)
    {
        bool contexts = context.Model.Info.Positions > 1 && context.Model.Capability<IExampleText>() is not null;
        if (contexts)
        {
            var text = context.Model.Capability<IExampleText>()!;
            if (options.Judge is AutointerpOptions.OfflineJudge or TokenCoverExplainer.OfflineName)
            {
                var cover = new TokenCoverExplainer(options.LabelCoverage);
                return new ContextJob(context, options, text, cover, cover, null);
            }
            if (options.Judge == LabelCoverExplainer.OfflineName)
                throw new NotApplicableException($"judge {LabelCoverExplainer.OfflineName} describes examples by their class; model '{context.Model.Info.Id}' has token contexts (use {TokenCoverExplainer.OfflineName} or {AutointerpOptions.ChatJudgeName})");
            var (chatExplainer, chatJudge, chatClient) = Chat(options);
            return new ContextJob(context, options, text, chatExplainer, chatJudge, chatClient);
        }
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why)) throw new NotApplicableException(why + " (examples are described by their class, or by their text on a language model)");
        var classNames = tasks.Tasks.ClassNames;
        if (options.Judge is AutointerpOptions.OfflineJudge or LabelCoverExplainer.OfflineName)
            return new Job(context, options, classNames, new LabelCoverExplainer(classNames, options.LabelCoverage), new LabelCoverJudge(), null);
        if (options.Judge == TokenCoverExplainer.OfflineName)
            throw new NotApplicableException($"judge {TokenCoverExplainer.OfflineName} needs token contexts; model '{context.Model.Info.Id}' has none");
        var (explainer, judge, client) = Chat(options);
        return new Job(context, options, classNames, explainer, judge, client);
    }

    private static (IExplainer Explainer, IJudge Judge, IDisposable Client) Chat(AutointerpOptions options)
    {
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
        return (new ChatExplainer(client, name), new ChatJudge(client, name, sampling.TopForScoring + sampling.ImportanceForScoring), client);
    }

    /// <summary>Latents with more than the dead-latent threshold of firings (SAEBench's alive rule).</summary>
    private static int[] Alive(FiringCounts firing, int threshold)
    {
        var counts = firing.Counts.ToArray();
        return Enumerable.Range(0, counts.Length).Where(j => counts[j] > threshold).ToArray();
    }

    /// <summary>The metrics of the scored latents: SAEBench's names for an LLM judge; <c>offline_judge_score</c> for the
    /// offline stand-ins, so that no one reads them as an LLM judge's score.</summary>
    internal static List<MetricValue> ContextMetrics(double[] values, IJudge judge) => Metrics(values, judge);

    private static List<MetricValue> Metrics(double[] values, IJudge judge)
    {
        bool offline = judge.Name is LabelCoverExplainer.OfflineName or TokenCoverExplainer.OfflineName;
        return
        [
            new(offline ? AutointerpMetrics.OfflineScore : AutointerpMetrics.Score, values.Length > 0 ? Stats.Mean(values) : null),
            new(offline ? AutointerpMetrics.OfflineStdDev : AutointerpMetrics.StdDev, values.Length > 1 ? Stats.SampleStdDev(values) : null),
        ];
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
            var alive = Alive(_firing, options.DeadLatentThreshold);
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
            var metrics = Metrics(values, judge);
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

/// <summary>
/// Autointerp on token contexts (a language model): SAEBench's windows of 2·buffer + 1 tokens around top, importance-weighted
/// and random centres, the generation windows with active tokens marked (see <see cref="ContextExamples"/>).
/// </summary>
internal sealed class ContextJob(EvaluationContext context, AutointerpOptions options, IExampleText text, IExplainer explainer, IJudge judge,
    IDisposable? owned) : IEvaluationJob
{
    private readonly FiringCounts _firing = new(context.Sae.DSae);

    public void Observe(SaeBatch batch) => _firing.Add(batch);

    public EvalResult Complete(CancellationToken cancellation)
    {
        try { return Run(cancellation); }
        finally { owned?.Dispose(); }
    }

    private EvalResult Run(CancellationToken cancellation)
    {
        int seed = unchecked(context.Seed ^ AutointerpEvaluator.SeedSalt);
        var counts = _firing.Counts.ToArray();
        var alive = Enumerable.Range(0, counts.Length).Where(j => counts[j] > options.DeadLatentThreshold).ToArray();
        var latents = ExampleSampling.SampleLatents(alive, options.NLatents, seed);
        var rates = _firing.Rates();

        // Second pass: the sampled latents' activation at every position of the first max_examples contexts (invalid
        // positions — BOS and padding — are 0, as SAEBench zeroes them): memory contexts × T × n_latents floats.
        var shape = context.Model.Activations(Split.Test).Shape;
        int contexts = options.MaxExamples > 0 ? Math.Min(shape.Examples, options.MaxExamples) : shape.Examples;
        int t = shape.Positions;
        var acts = latents.Select(_ => Enumerable.Range(0, contexts).Select(_ => new float[t]).ToArray()).ToArray();
        if (latents.Length > 0)
            foreach (var batch in context.Encode(Split.Test, 0..contexts, decode: false))
            {
                cancellation.ThrowIfCancellationRequested();
                var src = batch.Source;
                for (int r = 0; r < batch.Rows; r++)
                {
                    if (!src.Valid[r]) continue;
                    int e = src.ExampleIndex[r], p = r % t;
                    var code = batch.F.Row(r);
                    for (int i = 0; i < latents.Length; i++) acts[i][e][p] = code[latents[i]];
                }
            }

        var scores = new List<double>();
        var details = new List<JsonObject>();
        var tokenCache = new Dictionary<int, IReadOnlyList<string>>();
        IReadOnlyList<string> Tokens(int c) => tokenCache.TryGetValue(c, out var v) ? v : tokenCache[c] = text.Tokens(Split.Test, c);
        for (int i = 0; i < latents.Length; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            int latent = latents[i];
            var chosen = ContextExamples.Select(acts[i], options.Buffer, ExampleSampling.LatentSeed(seed, latent), actThresholdFraction: options.ActThresholdFrac);
            var generation = chosen.Generation.Select(w => new GenerationExample(w.Context, -1,
                ContextExamples.Render(Tokens(w.Context), acts[i][w.Context], w, options.Buffer, chosen.ActiveThreshold, mark: true),
                acts[i][w.Context][w.Centre])).ToArray();
            var scoring = chosen.Scoring.Select(s => new JudgeExample(s.Window.Context, -1,
                ContextExamples.Render(Tokens(s.Window.Context), acts[i][s.Window.Context], s.Window, options.Buffer, chosen.ActiveThreshold, mark: false))).ToArray();
            double? score = null;
            string? error = null, explanation = null;
            IReadOnlyCollection<int> predicted = [];
            if (generation.Length == 0) error = "no activating window";
            else
            {
                explanation = explainer.Explain(latent, generation, cancellation);
                try
                {
                    predicted = judge.PredictActive(explanation, scoring, cancellation);
                    double s = ExampleSampling.Score(chosen.Scoring.Select((x, k) => new ScoringExample(k, x.Active)).ToArray(), predicted);
                    score = double.IsFinite(s) ? s : null;
                }
                catch (ChatReplyFormatException e) { error = e.Message; }
            }
            if (score is double v) scores.Add(v);
            details.Add(new JsonObject
            {
                ["latent"] = latent,
                ["score"] = score,
                ["explanation"] = explanation,
                ["top_activation"] = chosen.TopActivation,
                ["density"] = rates[latent],
                ["generation_windows"] = new JsonArray(generation.Select(g => (JsonNode)g.Text).ToArray()),
                ["scoring_windows"] = new JsonArray(scoring.Select(g => (JsonNode)g.Text).ToArray()),
                ["scoring_active"] = new JsonArray(chosen.Scoring.Select(s => (JsonNode)s.Active).ToArray()),
                ["predicted_active"] = new JsonArray(predicted.Select(p => (JsonNode)p).ToArray()),
                ["error"] = error,
            });
        }
        var unstructured = new JsonObject
        {
            ["explainer"] = explainer.Name,
            ["judge"] = judge.Name,
            ["latents_alive"] = alive.Length,
            ["latents_sampled"] = latents.Length,
            ["latents_scored"] = scores.Count,
            ["contexts"] = contexts,
            ["window_tokens"] = 2 * options.Buffer + 1,
        };
        return new EvalResult(AutointerpEvaluator.ContextMetrics(scores.ToArray(), judge), details, unstructured);
    }
}

/// <summary>Descriptors of the autointerp metrics (SAEBench's names for an LLM judge; offline_* for the offline stand-ins).</summary>
public static class AutointerpMetrics
{
    public static readonly MetricDescriptor Score = new("autointerp", "autointerp_score", "Autointerp score (LLM judge)", "fraction", true);
    public static readonly MetricDescriptor StdDev = new("autointerp", "autointerp_std_dev", "Autointerp score std. dev. (LLM judge)", "fraction", null);
    public static readonly MetricDescriptor OfflineScore = new("autointerp", "offline_judge_score", "Offline judge score (not an LLM judge)", "fraction", true);
    public static readonly MetricDescriptor OfflineStdDev = new("autointerp", "offline_judge_std_dev", "Offline judge score std. dev.", "fraction", null);
}
