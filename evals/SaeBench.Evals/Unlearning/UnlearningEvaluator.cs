using SaeBench.Evals.Shared;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Evals.Unlearning;

/// <summary>Options of the <c>unlearning</c> evaluator (see README.md).</summary>
public sealed record UnlearningOptions : EvaluatorOptions
{
    /// <summary>Retain-frequency thresholds τ: a latent qualifies when ρ_retain &lt; τ.</summary>
    public IReadOnlyList<double> RetainThresholds { get; init; } = [0.001, 0.01];

    /// <summary>Numbers of latents n clamped together.</summary>
    public IReadOnlyList<int> NFeaturesList { get; init; } = [10, 20];

    /// <summary>Clamp strengths. Classifier models: k in units of the activation scale s (mean ‖x‖ on the test split), a
    /// selected latent that fires is set so that its decoder contribution is −k·s along its unit direction (default
    /// <see cref="ClassifierMultipliers"/>). Language models: SAEBench's −m in decoder-norm-folded latent units (default
    /// <see cref="LanguageModelMultipliers"/>). Absent from <c>eval_config</c> when not given.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? Multipliers { get; init; }

    /// <summary>The default multipliers on classifier models.</summary>
    public static readonly IReadOnlyList<double> ClassifierMultipliers = [0.25, 0.5, 1];

    /// <summary>The default multipliers on language models (SAEBench's).</summary>
    public static readonly IReadOnlyList<double> LanguageModelMultipliers = [25, 50, 100, 200];

    /// <summary>Language models: a question counts only if the unmodified model answers it correctly under every
    /// ordering of its choices (SAEBench's rule; false: in the given order only).</summary>
    public bool RequireAllPermutations { get; init; } = true;

    /// <summary>Training-split examples (the first ones) on which firing frequencies are measured; 0 = all.</summary>
    public int FrequencyExamples { get; init; } = 10_000;

    /// <summary>Correctly classified forget examples of the test split kept for the accuracies (seeded sample); 0 = all.</summary>
    public int MaxForgetExamples { get; init; } = 0;

    /// <summary>Correctly classified retain examples of the test split kept for the accuracies (seeded sample); 0 = all.</summary>
    public int MaxRetainExamples { get; init; } = 2_000;

    /// <summary>A configuration whose retain accuracy is below this counts as forget accuracy 1.</summary>
    public double MinRetainAccuracy { get; init; } = 0.99;

    /// <summary>Language models: the forget corpus (e.g. WMDP's bio forget corpus; .jsonl/.json/.csv, field <see cref="TextField"/>).</summary>
    public string? ForgetCorpus { get; init; }

    /// <summary>Language models: the retain corpus (e.g. WikiText).</summary>
    public string? RetainCorpus { get; init; }

    /// <summary>Language models: multiple-choice questions on the forgotten topic (question, choices, answer index; e.g. WMDP-bio).</summary>
    public string? ForgetQuestions { get; init; }

    /// <summary>Language models: multiple-choice questions that must keep their accuracy (e.g. MMLU subjects).</summary>
    public IReadOnlyList<string> RetainQuestions { get; init; } = [];

    /// <summary>Language models: the field holding a corpus document's text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>Language models: documents sampled from each corpus (and at most that many windows; SAEBench 1024).</summary>
    public int DatasetSize { get; init; } = 1024;

    /// <summary>Language models: tokens per corpus window (SAEBench 1024; at most the model's context).</summary>
    public int SeqLen { get; init; } = 1024;

    /// <summary>Language models: <c>plain</c> (default) or <c>gemma-chat</c> (SAEBench's Gemma-2-it template).</summary>
    public string PromptFormat { get; init; } = "plain";

    public override IEnumerable<string> Validate()
    {
        if (RetainThresholds is null || RetainThresholds.Count == 0) yield return "retain_thresholds: give at least one threshold.";
        else if (RetainThresholds.Any(t => !(t > 0 && t <= 1))) yield return $"retain_thresholds: [{string.Join(", ", RetainThresholds)}] must each be in (0, 1].";
        if (NFeaturesList is null || NFeaturesList.Count == 0) yield return "n_features_list: give at least one count.";
        else if (NFeaturesList.Any(n => n < 1)) yield return $"n_features_list: [{string.Join(", ", NFeaturesList)}] must each be ≥ 1.";
        if (Multipliers is { Count: 0 }) yield return "multipliers: give at least one multiplier.";
        else if (Multipliers is not null && (Multipliers.Any(m => !(m >= 0) || !double.IsFinite(m)))) yield return $"multipliers: [{string.Join(", ", Multipliers)}] must each be finite and ≥ 0.";
        if (FrequencyExamples < 0) yield return $"frequency_examples: {FrequencyExamples} must be ≥ 0 (0 = all).";
        if (MaxForgetExamples < 0) yield return $"max_forget_examples: {MaxForgetExamples} must be ≥ 0 (0 = all).";
        if (MaxRetainExamples < 0) yield return $"max_retain_examples: {MaxRetainExamples} must be ≥ 0 (0 = all).";
        if (!(MinRetainAccuracy >= 0 && MinRetainAccuracy <= 1)) yield return $"min_retain_accuracy: {MinRetainAccuracy} must be in [0, 1].";
        if (DatasetSize < 1) yield return $"dataset_size: {DatasetSize} must be ≥ 1.";
        if (SeqLen < 2) yield return $"seq_len: {SeqLen} must be ≥ 2.";
        if (PromptFormat is not ("plain" or "gemma-chat")) yield return $"prompt_format: '{PromptFormat}' is not plain or gemma-chat.";
        bool anyText = ForgetCorpus is not null || RetainCorpus is not null || ForgetQuestions is not null || RetainQuestions.Count > 0;
        if (anyText && (ForgetCorpus is null || RetainCorpus is null || ForgetQuestions is null || RetainQuestions.Count == 0))
            yield return "forget_corpus, retain_corpus, forget_questions, retain_questions: a language model needs all four.";
    }
}

/// <summary>
/// Unlearning by clamping latents (METRICS.md <c>unlearning</c>): latents that fire on the forget concept and almost
/// never on the rest are clamped negative at the hook, and the evaluator measures how far the model's accuracy on the
/// forget set falls while its accuracy on the retain set holds.
/// </summary>
public sealed class UnlearningEvaluator : Evaluator<UnlearningOptions>
{
    /// <summary>Mixed into the run seed so this evaluator's draws differ from other evaluators'.</summary>
    public const int SeedSalt = 0x756E6C72; // "unlr"

    public override EvaluatorInfo Info { get; } = new("unlearning", "Unlearning",
        "Clamps latents specific to the forget concept negative at the hook and measures forget vs retain accuracy.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, UnlearningOptions options)
    {
        if (context.Model.Capability<ITextModel>() is { } text)
        {
            if (options.ForgetCorpus is null)
                throw new NotApplicableException($"model '{context.Model.Info.Id}' is a language model: give unlearning forget_corpus, retain_corpus, forget_questions and retain_questions (local files)");
            if (!context.Model.TryGet<ILabelledTextSource>(out var files, out var whyFiles)) throw new NotApplicableException(whyFiles);
            return new TextUnlearningJob(context, options, text, files);
        }
        if (!context.Model.TryGet<IDownstreamLoss>(out var forward, out var why)) throw new NotApplicableException(why);
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out why)) throw new NotApplicableException(why);
        if (tasks.Tasks.ForgetConcept is not int forget)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' defines no forget concept");
        if (context.Model.Info.Positions != 1)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' has {context.Model.Info.Positions} positions per example; unlearning is implemented for one position per example (classifiers)");
        return new Job(context, options, forward, tasks, forget);
    }

    private sealed class Job : IEvaluationJob
    {
        private readonly EvaluationContext _context;
        private readonly UnlearningOptions _options;
        private readonly IDownstreamLoss _forward;
        private readonly ILabelledTasks _tasks;
        private readonly int _forget;
        private readonly ExampleLabels _testLabels;
        private readonly RowReservoir _forgetRows, _retainRows;
        private double _normSum;
        private long _tokens, _forgetSeen, _retainSeen;

        public Job(EvaluationContext context, UnlearningOptions options, IDownstreamLoss forward, ILabelledTasks tasks, int forget)
        {
            _context = context;
            _options = options;
            _forward = forward;
            _tasks = tasks;
            _forget = forget;
            _testLabels = tasks.Labels(Split.Test);
            var rng = new Random(unchecked(context.Seed ^ SeedSalt));
            _forgetRows = new RowReservoir(context.Sae.DIn, options.MaxForgetExamples, rng);
            _retainRows = new RowReservoir(context.Sae.DIn, options.MaxRetainExamples, rng);
        }

        public void Observe(SaeBatch batch)
        {
            var src = batch.Source;
            int rows = batch.Rows;
            var clean = _forward.Compare(src, []).Clean;
            for (int r = 0; r < rows; r++)
            {
                if (!src.Valid[r]) continue;
                var x = batch.X.Row(r);
                _normSum += Math.Sqrt(TensorPrimitives.Dot<float>(x, x));
                _tokens++;
                int label = src.Label[r];
                if (label < 0) continue;
                bool isForget = _testLabels.Has(src.ExampleIndex[r], _forget);
                if (isForget) _forgetSeen++; else _retainSeen++;
                if (!clean.Correct[r]) continue;
                (isForget ? _forgetRows : _retainRows).Offer(x, src.ExampleIndex[r], label);
            }
        }

        public EvalResult Complete(CancellationToken cancellation)
        {
            var sae = _context.Sae;
            double scale = _tokens > 0 ? _normSum / _tokens : double.NaN;

            // Firing frequencies on the training split (selection never looks at the evaluation examples).
            var trainLabels = _tasks.Labels(Split.Train);
            var forgetCounter = new FiringCounts(sae.DSae);
            var retainCounter = new FiringCounts(sae.DSae);
            Range? range = _options.FrequencyExamples > 0 ? new Range(0, Math.Min(_options.FrequencyExamples, trainLabels.Count)) : null;
            foreach (var batch in _context.Encode(Split.Train, range, decode: false))
            {
                cancellation.ThrowIfCancellationRequested();
                var src = batch.Source;
                var isForget = new bool[batch.Rows];
                for (int r = 0; r < batch.Rows; r++) isForget[r] = trainLabels.Has(src.ExampleIndex[r], _forget);
                var valid = src.Valid.ToArray();
                forgetCounter.Add(batch, r => valid[r] && isForget[r]);
                retainCounter.Add(batch, r => valid[r] && !isForget[r]);
            }
            var rhoForget = forgetCounter.Rates();
            var rhoRetain = retainCounter.Rates();

            using var forgetSet = _forgetRows.Materialise(sae, _context);
            using var retainSet = _retainRows.Materialise(sae, _context);

            // Clamp value per latent so that −value·d_j has norm k·s in the model's units.
            var decoderNorms = sae.DecoderNorms();
            float inputScale = sae.Parameters.InputScale;

            var outcomes = new List<UnlearningOutcome>();
            var details = new List<JsonObject>();
            if (forgetSet.Rows > 0 && retainSet.Rows > 0 && double.IsFinite(scale))
            {
                foreach (double tau in _options.RetainThresholds)
                foreach (int n in _options.NFeaturesList)
                {
                    var selected = UnlearningMath.SelectLatents(rhoForget, rhoRetain, tau, n);
                    foreach (double k in _options.Multipliers ?? UnlearningOptions.ClassifierMultipliers)
                    {
                        cancellation.ThrowIfCancellationRequested();
                        var clamp = selected.Select(j => decoderNorms[j] > 0 ? (float)(k * scale * inputScale / decoderNorms[j]) : 0f).ToArray();
                        double forgetAcc = forgetSet.AccuracyUnderClamp(sae, _forward, selected, clamp);
                        double retainAcc = retainSet.AccuracyUnderClamp(sae, _forward, selected, clamp);
                        var configuration = new UnlearningConfiguration(tau, n, k);
                        outcomes.Add(new UnlearningOutcome(configuration, forgetAcc, retainAcc));
                        details.Add(new JsonObject
                        {
                            ["tau"] = tau,
                            ["n"] = n,
                            ["multiplier"] = k,
                            ["clamp_norm"] = k * scale,
                            ["forget_accuracy"] = forgetAcc,
                            ["retain_accuracy"] = retainAcc,
                            ["latents"] = new JsonArray(selected.Select(j => (JsonNode)j).ToArray()),
                        });
                    }
                }
            }

            double score = UnlearningMath.Score(outcomes, _options.MinRetainAccuracy);
            var metrics = new List<MetricValue> { MetricValue.Of(UnlearningMetrics.UnlearningScore, score) };
            var unstructured = new JsonObject
            {
                ["forget_concept"] = _forget,
                ["forget_concept_name"] = _tasks.Tasks.Hierarchy.Count > _forget ? _tasks.Tasks.Hierarchy.Concepts[_forget].Name : null,
                ["activation_scale"] = double.IsFinite(scale) ? scale : null,
                ["activation_scale_definition"] = "mean L2 norm of the hook activations over the test split",
                ["forget_examples_test"] = _forgetSeen,
                ["retain_examples_test"] = _retainSeen,
                ["forget_examples_correct_used"] = forgetSet.Rows,
                ["retain_examples_correct_used"] = retainSet.Rows,
                ["frequency_tokens_forget"] = forgetCounter.Tokens,
                ["frequency_tokens_retain"] = retainCounter.Tokens,
            };
            return new EvalResult(metrics, details, unstructured);
        }
    }

    /// <summary>A uniform seeded sample (reservoir, Algorithm R) of at most <c>capacity</c> rows, or all rows when capacity is 0.</summary>
    private sealed class RowReservoir(int cols, int capacity, Random rng)
    {
        private readonly List<float[]> _rows = [];
        private readonly List<int> _examples = [];
        private readonly List<int> _labels = [];
        private long _offered;

        public void Offer(ReadOnlySpan<float> row, int example, int label)
        {
            _offered++;
            if (capacity == 0 || _rows.Count < capacity)
            {
                _rows.Add(row.ToArray());
                _examples.Add(example);
                _labels.Add(label);
                return;
            }
            long j = rng.NextInt64(_offered);
            if (j < capacity)
            {
                _rows[(int)j] = row.ToArray();
                _examples[(int)j] = example;
                _labels[(int)j] = label;
            }
        }

        public EvalSet Materialise(Sae sae, EvaluationContext context)
        {
            var x = new HostMatrix(_rows.Count, cols);
            for (int r = 0; r < _rows.Count; r++) _rows[r].CopyTo(x.Row(r));
            var f = new HostMatrix(_rows.Count, sae.DSae);
            if (_rows.Count > 0) sae.Encode(context.Backend, x, f);
            return new EvalSet(x, f, _examples.ToArray(), _labels.ToArray());
        }
    }

    /// <summary>Correctly classified test examples (one position each) with their codes; accuracy after the clamping edit.</summary>
    private sealed class EvalSet(HostMatrix x, HostMatrix f, int[] examples, int[] labels) : IDisposable
    {
        public int Rows => x.Rows;

        /// <summary>
        /// Clamps the selected latents where they fire (<see cref="LatentEdit.ClampActive"/> to −clamp), splices the edit in
        /// with the SAE's error term kept (<see cref="LatentIntervention.WithErrorTerm"/>), and returns the accuracy of the
        /// model's forward pass from the hook.
        /// </summary>
        public double AccuracyUnderClamp(Sae sae, IDownstreamLoss forward, int[] selected, float[] clamp)
        {
            if (Rows == 0) return double.NaN;
            using var edited = HostMatrix.Rent(Rows, x.Cols, clear: false);
            LatentIntervention.WithErrorTerm(sae, x, f, LatentEdit.ClampActive(selected, clamp.Select(c => -c).ToArray()), edited);
            var inputs = ActivationBatch.ForRows(Split.Test, x, examples, labels); // not disposed: x belongs to this set
            var outcome = forward.Compare(inputs, [edited]).Replaced[0];
            int correct = 0;
            for (int r = 0; r < Rows; r++)
                if (outcome.Correct[r]) correct++;
            return (double)correct / Rows;
        }

        public void Dispose()
        {
            x.Dispose();
            f.Dispose();
        }
    }
}

/// <summary>Descriptors of the unlearning metrics (SAEBench's category and name).</summary>
public static class UnlearningMetrics
{
    public static readonly MetricDescriptor UnlearningScore =
        new("unlearning", "unlearning_score", "Unlearning score", "fraction", true);
}
