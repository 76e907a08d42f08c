using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Unlearning;

/// <summary>A multiple-choice question: text, choices and the index of the correct one.</summary>
public sealed record ChoiceQuestion(string Question, IReadOnlyList<string> Choices, int Answer, string Subject);

/// <summary>SAEBench's multiple-choice prompts.</summary>
public static class UnlearningPrompts
{
    /// <summary>The prompt of a question (SAEBench's wording; the Gemma chat template with <c>prompt_format: gemma-chat</c>).</summary>
    public static string Of(ChoiceQuestion q, string format)
    {
        var body = $"The following are multiple choice questions (with answers) about {q.Subject.Replace('_', ' ')}.\n{q.Question}\n"
                   + string.Join("\n", q.Choices.Select((c, i) => $"{(char)('A' + i)}. {c}"));
        return format == "gemma-chat"
            ? $"<start_of_turn>user\n{body}<end_of_turn>\n<start_of_turn>model\nAnswer: ("
            : body + "\nAnswer:";
    }

}

/// <summary>
/// SAEBench's unlearning on a language model (<c>sae_bench/evals/unlearning</c>; notes §5): latents that fire on a forget
/// corpus and (almost) never on a retain corpus are clamped negative at the hook where they are active, with the SAE's
/// error term kept; the score is 1 − the lowest forget-question accuracy among the clamps that keep the retain-question
/// accuracy at or above the threshold.
/// </summary>
internal sealed class TextUnlearningJob(EvaluationContext context, UnlearningOptions options, ITextModel model, ILabelledTextSource files) : IEvaluationJob
{
    private const string Salt = "unlearning_text";

    public void Observe(SaeBatch batch) { }

    public EvalResult Complete(CancellationToken cancellation)
    {
        var sae = context.Sae;
        var rng = new Random(Sampling.Derive(context.Seed, Salt));
        int seqLen = Math.Min(options.SeqLen, model.MaxSequenceLength);

        // 1. Firing frequencies on the forget and retain corpora (non-special tokens).
        var forgetRates = Rates(Windows(options.ForgetCorpus!, seqLen, rng), cancellation, out long forgetTokens);
        var retainRates = Rates(Windows(options.RetainCorpus!, seqLen, rng), cancellation, out long retainTokens);

        // 2. Questions the unmodified model answers correctly.
        var forget = Questions(options.ForgetQuestions!);
        var retain = options.RetainQuestions.SelectMany(Questions).ToList();
        var candidates = Candidates();
        var forgetCorrect = AnsweredCorrectly(forget, candidates, cancellation);
        var retainCorrect = AnsweredCorrectly(retain, candidates, cancellation);
        var multipliers = options.Multipliers ?? UnlearningOptions.LanguageModelMultipliers;
        string rule = options.RequireAllPermutations ? " under every ordering of its choices" : "";
        if (forgetCorrect.Count == 0 || retainCorrect.Count == 0)
            throw new NotApplicableException($"the unmodified model answers {forgetCorrect.Count} of {forget.Count} forget questions and "
                + $"{retainCorrect.Count} of {retain.Count} retain questions correctly{rule}; both must be some to measure unlearning "
                + "(SAEBench runs it on instruction-tuned models such as gemma-2-2b-it)");

        // 3. The sweep: τ × n × multiplier.
        var decoderNorms = sae.DecoderNorms();
        var outcomes = new List<UnlearningOutcome>();
        var details = new List<JsonObject>();
        foreach (double tau in options.RetainThresholds)
            foreach (int n in options.NFeaturesList)
            {
                var selected = UnlearningMath.SelectLatents(forgetRates, retainRates, tau, n);
                foreach (double m in multipliers)
                {
                    cancellation.ThrowIfCancellationRequested();
                    // The clamp value is −m in the decoder-norm-folded SAE's units (SAEBench folds before every eval).
                    var values = selected.Select(j => decoderNorms[j] > 0 ? (float)(-m / decoderNorms[j]) : 0f).ToArray();
                    var edit = new ClampEdit(sae, context.Backend, LatentEdit.ClampActive(selected, values));
                    double forgetAcc = Accuracy(forgetCorrect, candidates, selected.Length > 0 ? edit : null);
                    double retainAcc = Accuracy(retainCorrect, candidates, selected.Length > 0 ? edit : null);
                    outcomes.Add(new UnlearningOutcome(new UnlearningConfiguration(tau, n, m), forgetAcc, retainAcc));
                    details.Add(new JsonObject
                    {
                        ["tau"] = tau, ["n"] = n, ["multiplier"] = m,
                        ["forget_accuracy"] = forgetAcc, ["retain_accuracy"] = retainAcc,
                        ["latents"] = new JsonArray(selected.Select(j => (JsonNode)j).ToArray()),
                    });
                }
            }

        double score = UnlearningMath.Score(outcomes, options.MinRetainAccuracy);
        var unstructured = new JsonObject
        {
            ["mode"] = "language model: forget/retain corpora and multiple-choice questions",
            ["forget_questions"] = forget.Count,
            ["forget_questions_correct"] = forgetCorrect.Count,
            ["retain_questions"] = retain.Count,
            ["retain_questions_correct"] = retainCorrect.Count,
            ["frequency_tokens_forget"] = forgetTokens,
            ["frequency_tokens_retain"] = retainTokens,
            ["seq_len"] = seqLen,
            ["prompt_format"] = options.PromptFormat,
            ["multipliers"] = new JsonArray(multipliers.Select(m => (JsonNode)m).ToArray()),
            ["require_all_permutations"] = options.RequireAllPermutations,
        };
        return new EvalResult([MetricValue.Of(UnlearningMetrics.UnlearningScore, score)], details, unstructured);
    }

    /// <summary>A seeded sample of up to dataset_size documents longer than 50 characters, tokenized without BOS, concatenated
    /// (EOS between documents when the model has one) and cut into windows of seqLen tokens, each starting with BOS
    /// (SAEBench's <c>tokenize_and_concat_dataset</c>; the partial tail is dropped).</summary>
    private List<int[]> Windows(string path, int seqLen, Random rng)
    {
        var records = files.Records(path);
        var texts = records.Select(r => r[options.TextField]?.ToString()).OfType<string>().Where(t => t.Length > 50).ToArray();
        if (texts.Length == 0) throw new ConfigException($"evaluator 'unlearning': {path}: no document with more than 50 characters in field '{options.TextField}'.");
        var chosen = Sampling.Choose(Enumerable.Range(0, texts.Length).ToArray(), Math.Min(options.DatasetSize, texts.Length), rng).Select(i => texts[i]).ToList();
        var bos = model.Tokenizer.Encode("", prependBos: true);
        var stream = new List<int>();
        foreach (var t in chosen) stream.AddRange(model.Tokenizer.Encode(t, prependBos: false));
        int body = seqLen - bos.Length;
        var windows = new List<int[]>();
        for (int start = 0; start + body <= stream.Count && windows.Count < options.DatasetSize; start += body)
            windows.Add([.. bos, .. stream.Skip(start).Take(body)]);
        if (windows.Count == 0 && stream.Count > 0) windows.Add([.. bos, .. stream]); // a corpus shorter than one window
        return windows;
    }

    private double[] Rates(List<int[]> windows, CancellationToken cancellation, out long tokens)
    {
        var counts = new FiringCounts(context.Sae.DSae);
        foreach (var chunk in windows.Chunk(Math.Max(1, context.BatchRows / Math.Max(1, windows.FirstOrDefault()?.Length ?? 1))))
        {
            cancellation.ThrowIfCancellationRequested();
            using var x = model.HookActivations(chunk);
            using var f = new HostMatrix(x.Rows, context.Sae.DSae);
            context.Sae.Encode(context.Backend, x, f);
            var ids = chunk.SelectMany(c => c).ToArray();
            using var kept = HostMatrix.Rent(ids.Count(id => !model.Tokenizer.IsSpecial(id)), f.Cols, clear: false);
            int k = 0;
            for (int r = 0; r < ids.Length; r++)
                if (!model.Tokenizer.IsSpecial(ids[r])) f.Row(r).CopyTo(kept.Row(k++));
            if (k > 0) counts.Add(kept);
        }
        tokens = counts.Tokens;
        return counts.Rates();
    }

    private List<ChoiceQuestion> Questions(string path)
    {
        var result = new List<ChoiceQuestion>();
        var records = files.Records(path);
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            string at = $"{path}: question {i}";
            var question = r["question"]?.ToString() ?? throw new ConfigException($"{at}: field 'question' is missing.");
            var choices = (r["choices"] as JsonArray)?.Select(c => c?.ToString() ?? "").ToList()
                          ?? throw new ConfigException($"{at}: field 'choices' must be an array of strings.");
            if (choices.Count is < 2 or > 4) throw new ConfigException($"{at}: field 'choices' has {choices.Count} entries; 2 to 4 are supported (A–D).");
            int answer = r["answer"] is JsonValue v && v.TryGetValue<int>(out var a) ? a
                : int.TryParse(r["answer"]?.ToString(), out var parsed) ? parsed : throw new ConfigException($"{at}: field 'answer' must be the index of the correct choice.");
            if (answer < 0 || answer >= choices.Count) throw new ConfigException($"{at}: field 'answer' = {answer} is not an index of its {choices.Count} choices.");
            result.Add(new ChoiceQuestion(question, choices, answer, r["subject"]?.ToString() ?? System.IO.Path.GetFileNameWithoutExtension(path)));
        }
        return result;
    }

    /// <summary>For each letter A–D, the single-token spellings "X" and " X" (SAEBench takes the larger probability of the two).</summary>
    private int[][] Candidates() =>
        Enumerable.Range(0, 4).Select(i =>
        {
            var letter = ((char)('A' + i)).ToString();
            return new[] { letter, " " + letter }.Select(s => model.Tokenizer.Encode(s, prependBos: false)).Where(ids => ids.Length == 1).Select(ids => ids[0]).ToArray();
        }).ToArray();

    private int[] Predict(IReadOnlyList<ChoiceQuestion> questions, int[][] candidates, IHookEdit? edit)
    {
        var flat = candidates.SelectMany(c => c).Distinct().ToArray();
        if (flat.Length == 0) throw new NotApplicableException("the tokenizer has no single token for the answer letters A–D");
        var prompts = questions.Select(q => model.Tokenizer.Encode(UnlearningPrompts.Of(q, options.PromptFormat))).ToList();
        var logp = model.NextTokenLogProbs(prompts, flat, edit);
        return logp.Select((lp, qi) =>
        {
            int best = -1;
            double bestLp = double.NegativeInfinity;
            for (int letter = 0; letter < questions[qi].Choices.Count; letter++)
                foreach (int id in candidates[letter])
                {
                    double v = lp[Array.IndexOf(flat, id)];
                    if (v > bestLp) { bestLp = v; best = letter; }
                }
            return best;
        }).ToArray();
    }

    /// <summary>The questions the unmodified model answers correctly — under every ordering of the choices with
    /// require_all_permutations (SAEBench's <c>_find_all_permutation_correct_ans</c>), else in the given order.</summary>
    private List<ChoiceQuestion> AnsweredCorrectly(List<ChoiceQuestion> questions, int[][] candidates, CancellationToken cancellation)
    {
        var kept = new List<ChoiceQuestion>();
        foreach (var q in questions)
        {
            cancellation.ThrowIfCancellationRequested();
            var variants = options.RequireAllPermutations ? Permutations(q.Choices.Count).Select(p => Reorder(q, p)).ToList() : [q];
            bool all = true;
            foreach (var chunk in variants.Chunk(32))
            {
                var predicted = Predict(chunk, candidates, null);
                if (chunk.Where((v, i) => predicted[i] != v.Answer).Any()) { all = false; break; }
            }
            if (all) kept.Add(q);
        }
        return kept;
    }

    /// <summary>The question with its choices in the order <paramref name="order"/> (order[i] = original index of the
    /// choice shown at i), the answer following its choice.</summary>
    private static ChoiceQuestion Reorder(ChoiceQuestion q, int[] order) =>
        q with { Choices = order.Select(i => q.Choices[i]).ToArray(), Answer = Array.IndexOf(order, q.Answer) };

    private static IEnumerable<int[]> Permutations(int n)
    {
        if (n == 0) { yield return []; yield break; }
        foreach (var rest in Permutations(n - 1))
            for (int at = 0; at <= rest.Length; at++)
                yield return [.. rest[..at], n - 1, .. rest[at..]];
    }

    private double Accuracy(List<ChoiceQuestion> questions, int[][] candidates, IHookEdit? edit)
    {
        var predicted = new List<int>();
        foreach (var chunk in questions.Chunk(32)) predicted.AddRange(Predict(chunk, candidates, edit));
        return questions.Count == 0 ? double.NaN : (double)questions.Where((q, i) => predicted[i] == q.Answer).Count() / questions.Count;
    }

    /// <summary>SAEBench's clamp at the hook: the selected latents, where active, become the clamp values; the SAE's error
    /// term is kept; special-token positions (BOS) are left alone (SAEBench zeroes every latent at position 0).</summary>
    private sealed class ClampEdit(Sae sae, ComputeBackend backend, LatentEdit edit) : IHookEdit
    {
        public void Edit(HostMatrix hookValues, ReadOnlySpan<bool> special)
        {
            using var f = new HostMatrix(hookValues.Rows, sae.DSae);
            sae.Encode(backend, hookValues, f);
            for (int r = 0; r < special.Length; r++)
                if (special[r]) f.Row(r).Clear();
            LatentIntervention.WithErrorTerm(sae, hookValues, f, edit, hookValues);
        }
    }
}
