using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Absorption;

/// <summary>Options of the <c>absorption_first_letter</c> evaluator (SAEBench's names where it has them).</summary>
public sealed record FirstLetterAbsorptionOptions : EvaluatorOptions
{
    /// <summary>The prompt of a word; <c>{word}</c> is the token's text (with its leading space).</summary>
    public string PromptTemplate { get; init; } = "{word} has the first letter:";

    /// <summary>In-context examples before the word (SAEBench: 10).</summary>
    public int IclExamples { get; init; } = 10;

    /// <summary>τ_fs: grow the feature split while the k-sparse F1 improves by more than this.</summary>
    public double F1JumpThreshold { get; init; } = 0.03;

    /// <summary>Largest k of the k-sparse probes.</summary>
    public int MaxKValue { get; init; } = 10;

    /// <summary>λ of the L1 probe whose weights rank the latents (SAEBench's k_sparse_probe_l1_decay).</summary>
    public double KSparseProbeL1Decay { get; init; } = 0.01;

    /// <summary>A letter qualifies when its ground-truth probe's test F1 exceeds this (SAEBench's min_GT_probe_f1).</summary>
    public double MinGtProbeF1 { get; init; } = 0.6;

    /// <summary>Fewer qualifying letters than this → null metrics and a status (SAEBench's min_feats_for_eval).</summary>
    public int MinFeatsForEval { get; init; } = 20;

    /// <summary>Fraction of the alphabetic vocabulary held out as test words (SAEBench: 0.2).</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>At most this many words of the vocabulary (a seeded sample); 0 = all, as SAEBench.</summary>
    public int MaxWords { get; init; }

    public override IEnumerable<string> Validate()
    {
        if (!PromptTemplate.Contains("{word}", StringComparison.Ordinal)) yield return "prompt_template: must contain {word}.";
        if (IclExamples < 0) yield return $"icl_examples: {IclExamples} must be ≥ 0.";
        if (!(F1JumpThreshold >= 0) || !double.IsFinite(F1JumpThreshold)) yield return $"f1_jump_threshold: {F1JumpThreshold} must be a finite number ≥ 0.";
        if (MaxKValue < 1) yield return $"max_k_value: {MaxKValue} must be at least 1.";
        if (!(KSparseProbeL1Decay >= 0) || !double.IsFinite(KSparseProbeL1Decay)) yield return $"k_sparse_probe_l1_decay: {KSparseProbeL1Decay} must be ≥ 0.";
        if (!(MinGtProbeF1 >= 0 && MinGtProbeF1 < 1)) yield return $"min_gt_probe_f1: {MinGtProbeF1} must be in [0, 1).";
        if (MinFeatsForEval < 1) yield return $"min_feats_for_eval: {MinFeatsForEval} must be at least 1.";
        if (!(TestFraction > 0 && TestFraction < 1)) yield return $"test_fraction: {TestFraction} must be in (0, 1).";
        if (MaxWords < 0) yield return $"max_words: {MaxWords} must be ≥ 0 (0 = all).";
    }
}

/// <summary>
/// SAEBench's first-letter absorption (<c>sae_bench/evals/absorption</c>; notes in docs/reference/saebench-protocols.md §2)
/// on a language model: the alphabetic tokens of the vocabulary in an in-context "X has the first letter:" prompt, a
/// ground-truth probe per letter on the model's activations at the word, k-sparse probes and feature splits on the SAE's
/// codes, and per word the absorption fraction and full absorption (see README.md).
/// </summary>
public sealed class FirstLetterAbsorptionEvaluator : Evaluator<FirstLetterAbsorptionOptions>
{
    private const string Salt = "absorption_first_letter_words";

    public override EvaluatorInfo Info { get; } = new("absorption_first_letter", "Feature absorption (first letters)",
        "SAEBench's first-letter task on a language model: how often the latents of a letter stay silent on a word that starts with it because another latent absorbed its direction.",
        Version: "3"); // 2: too few letters is not applicable (main); 3: the ground-truth probe solved to convergence

    protected override IEvaluationJob Start(EvaluationContext context, FirstLetterAbsorptionOptions options)
    {
        if (!context.Model.TryGet<ITextModel>(out var text, out var why))
            throw new NotApplicableException(why + "; first-letter absorption needs a language model (absorption_hierarchy is the task for the other models)");
        return new Job(context, options, text);
    }

    /// <summary>An alphabetic token: its id, its text (with the leading space as decoded) and its first letter (0–25).</summary>
    public sealed record Word(int Id, string Text, int Letter);

    /// <summary>The tokens whose text, after one optional leading space, is non-empty ASCII letters (SAEBench's
    /// <c>get_alpha_tokens</c>), with their first letter.</summary>
    public static IReadOnlyList<Word> AlphabeticTokens(ITextTokenizer tokenizer)
    {
        var words = new List<Word>();
        for (int id = 0; id < tokenizer.VocabularySize; id++)
        {
            if (tokenizer.IsSpecial(id) || tokenizer.TokenText(id) is not { } text) continue;
            var core = text.StartsWith(' ') ? text[1..] : text;
            if (core.Length == 0 || !core.All(char.IsAsciiLetter)) continue;
            words.Add(new Word(id, text, char.ToLowerInvariant(core[0]) - 'a'));
        }
        return words;
    }

    /// <summary>
    /// The in-context prompt of <paramref name="word"/>: a newline, then <paramref name="examples"/> lines
    /// "template(example) X" (X the example's capital first letter), then "template(word)"; SAEBench's
    /// <c>create_icl_prompt</c> with <c>prepend_separator_to_first_example</c>.
    /// </summary>
    public static string Prompt(string template, IReadOnlyList<Word> examples, Word word) =>
        "\n" + string.Concat(examples.Select(e => template.Replace("{word}", e.Text) + " " + (char)('A' + e.Letter) + "\n"))
             + template.Replace("{word}", word.Text);

    private sealed class Job(EvaluationContext context, FirstLetterAbsorptionOptions options, ITextModel model) : IEvaluationJob
    {
        public void Observe(SaeBatch batch) { }

        public EvalResult Complete(CancellationToken cancellation)
        {
            var rng = new Random(Sampling.Derive(context.Seed, Salt));
            var vocabulary = AlphabeticTokens(model.Tokenizer).ToList();
            if (options.MaxWords > 0 && vocabulary.Count > options.MaxWords)
                vocabulary = Sampling.Choose(Enumerable.Range(0, vocabulary.Count).ToArray(), options.MaxWords, rng).Select(i => vocabulary[i]).ToList();
            // Seeded shuffle, then the first (1 − test_fraction) are train words (SAEBench: random.sample, 80/20).
            var shuffled = vocabulary.OrderBy(_ => rng.Next()).ToList();
            int nTrain = (int)(shuffled.Count * (1 - options.TestFraction));
            var trainWords = shuffled[..nTrain];
            var testWords = shuffled[nTrain..];

            cancellation.ThrowIfCancellationRequested();
            var (trainUsed, aTrain) = Activations(trainWords, trainWords, rng);
            var (testUsed, aTest) = Activations(testWords, testWords, rng);
            using var lTrain = Encode(aTrain);
            using var lTest = Encode(aTest);
            AbsorptionProcedure.ScaleToUnitDecoder(context.Sae, lTrain, lTest);

            var details = new List<JsonObject>();
            var letters = new JsonArray();
            var qualifying = new List<ParentAbsorption>();
            for (int letter = 0; letter < 26; letter++)
            {
                cancellation.ThrowIfCancellationRequested();
                string name = ((char)('a' + letter)).ToString();
                var yTrain = trainUsed.Select(w => w.Letter == letter).ToArray();
                var yTest = testUsed.Select(w => w.Letter == letter).ToArray();
                var row = new JsonObject { ["letter"] = name, ["train_words"] = yTrain.Count(y => y), ["test_words"] = yTest.Count(y => y) };
                letters.Add(row);
                if (!yTrain.Contains(true) || !yTest.Contains(true) || !yTrain.Contains(false) || !yTest.Contains(false))
                {
                    row["qualifies"] = false;
                    row["reason"] = "no train or test words with (or without) this first letter";
                    continue;
                }
                var outcome = AbsorptionProcedure.Evaluate(new ProbeData(aTrain, lTrain, yTrain, aTest, lTest, yTest), context.Sae,
                    new ProcedureSettings(options.MinGtProbeF1, options.KSparseProbeL1Decay, options.MaxKValue, options.F1JumpThreshold, BalancedGroundTruthProbe: true), row);
                if (outcome.NotQualifying is { } reason)
                {
                    row["qualifies"] = false;
                    row["reason"] = reason;
                    continue;
                }
                var result = AbsorptionMath.Aggregate(name, outcome.Examples.Select(e => e.Absorption).ToList(), outcome.Split.Length);
                row["qualifies"] = true;
                int full = outcome.Examples.Count(e => e.Absorption.FullAbsorption);
                if (result.Examples > 0) qualifying.Add(result);
                details.Add(new JsonObject
                {
                    ["first_letter"] = name,
                    ["mean_absorption_fraction"] = JsonNumbers(result.MeanAbsorptionFraction),
                    ["full_absorption_rate"] = JsonNumbers(result.FullAbsorptionRate),
                    ["num_full_absorption"] = full,
                    ["num_probe_true_positives"] = result.Examples,
                    ["num_split_features"] = outcome.Split.Length,
                    ["split_latents"] = new JsonArray(outcome.Split.Select(j => (JsonNode)j).ToArray()),
                    ["probe_f1"] = row["probe_f1"]?.DeepClone(),
                });
            }

            var summary = AbsorptionMath.Summarise(qualifying, options.MinFeatsForEval);
            if (summary.Status is not null)
            {
                // SAEBench's schema requires numbers, so a result with too few letters would be null metrics that no
                // reader can use: the evaluation does not apply to this model and hook, and the reason says why.
                var best = letters.OfType<JsonObject>().Where(l => l["probe_f1"] is not null)
                    .MaxBy(l => (double)l["probe_f1"]!);
                string bestProbe = best is null ? "no letter could be probed"
                    : $"the best ground-truth probe reaches test F1 {(double)best["probe_f1"]!:0.000} (letter {best["letter"]})";
                aTrain.Dispose();
                aTest.Dispose();
                throw new NotApplicableException(
                    $"{summary.Parents} of 26 letters qualify, fewer than min_feats_for_eval {options.MinFeatsForEval}: {bestProbe}, " +
                    $"min_gt_probe_f1 is {options.MinGtProbeF1} — the activations at this hook do not carry first letters well enough to measure absorption");
            }
            var metrics = AbsorptionMetrics.Of(summary);
            var unstructured = new JsonObject
            {
                ["alphabetic_tokens"] = vocabulary.Count,
                ["train_words"] = trainUsed.Count,
                ["test_words"] = testUsed.Count,
                ["letters_qualifying"] = summary.Parents,
                ["letters"] = letters,
                ["decoder_directions"] = "unit-norm: codes multiplied by their decoder norms (the folded SAE's codes)",
            };
            aTrain.Dispose();
            aTest.Dispose();
            return new EvalResult(metrics, details, unstructured);
        }

        private static JsonNode? JsonNumbers(double v) => double.IsFinite(v) ? v : null;

        /// <summary>
        /// The activation at the word of each word's prompt (in-context examples drawn from <paramref name="pool"/>, never
        /// the word itself). A word whose token does not appear in its tokenized prompt (the tokenizer merged it with a
        /// neighbour) is left out.
        /// </summary>
        private (List<Word> Used, HostMatrix Activations) Activations(List<Word> words, List<Word> pool, Random rng)
        {
            var prompts = new List<int[]>();
            var positions = new List<int>();
            var used = new List<Word>();
            foreach (var word in words)
            {
                var others = pool.Where(w => w.Id != word.Id).ToList();
                var examples = Sampling.Choose(Enumerable.Range(0, others.Count).ToArray(), Math.Min(options.IclExamples, others.Count), rng)
                    .Select(i => others[i]).OrderBy(_ => rng.Next()).ToList();
                var ids = model.Tokenizer.Encode(Prompt(options.PromptTemplate, examples, word));
                int at = Array.LastIndexOf(ids, word.Id);
                if (at < 0) continue;
                prompts.Add(ids);
                positions.Add(at);
                used.Add(word);
            }
            var result = new HostMatrix(prompts.Count, context.Model.Info.DModel);
            const int Chunk = 64; // prompts per call: memory ∝ chunk × prompt length × d_model
            for (int start = 0; start < prompts.Count; start += Chunk)
            {
                var chunk = prompts.Skip(start).Take(Chunk).ToList();
                using var acts = model.HookActivations(chunk);
                int row = 0;
                for (int i = 0; i < chunk.Count; i++)
                {
                    acts.Row(row + positions[start + i]).CopyTo(result.Row(start + i));
                    row += chunk[i].Length;
                }
            }
            return (used, result);
        }

        private HostMatrix Encode(HostMatrix activations)
        {
            var codes = new HostMatrix(activations.Rows, context.Sae.DSae);
            if (activations.Rows > 0) context.Sae.Encode(context.Backend, activations, codes);
            return codes;
        }
    }
}
