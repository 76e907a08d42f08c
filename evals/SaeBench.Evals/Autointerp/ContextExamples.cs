using System.Text;

namespace SaeBench.Evals.Autointerp;

/// <summary>A window of a context: the context (example) index and the centre position.</summary>
public readonly record struct ContextWindow(int Context, int Centre);

/// <summary>The windows chosen for one latent on token contexts (SAEBench's <c>gather_data</c>).</summary>
public sealed record ContextSelection(ContextWindow[] Generation, (ContextWindow Window, bool Active)[] Scoring, float TopActivation, float ActiveThreshold);

/// <summary>
/// SAEBench's example selection on token contexts (<c>sae_bench/evals/autointerp/main.py::gather_data</c> and
/// <c>indexing_utils.py</c>), for one latent whose activations are given per context and position:
/// <list type="number">
/// <item>top: the 12 highest activations at centres in [buffer, T − buffer), skipping a centre within ±buffer of one
/// already chosen in the same context (no_overlap); a random 10 of them for generation, 2 for scoring;</item>
/// <item>importance-weighted: with every activation ≥ the smallest top activation set to 0, 7 centres drawn without
/// replacement ∝ activation² from [buffer, T − buffer); a random 5 for generation, 2 for scoring;</item>
/// <item>random: 10 uniform (context, centre) windows for scoring;</item>
/// <item>a window is the tokens [centre − buffer, centre + buffer]; a token is active when its activation exceeds
/// <c>act_threshold_frac</c> (1 %) of the largest top activation; a scoring window is active when any of its tokens is.
/// <b>Differs:</b> random windows are labelled by their real activations (SAEBench gives them all-zero activations, so
/// they always count as inactive).</item>
/// </list>
/// Generation windows are sorted by their largest activation, descending; scoring windows are shuffled.
/// </summary>
public static class ContextExamples
{
    public static ContextSelection Select(float[][] activations, int buffer, int seed, ExampleSamplingOptions? options = null, double actThresholdFraction = 0.01)
    {
        var o = options ?? ExampleSamplingOptions.Default;
        var rng = new Random(seed);
        int contexts = activations.Length;
        int t = contexts == 0 ? 0 : activations[0].Length;
        int lo = Math.Min(buffer, t), hi = Math.Max(lo, t - buffer);

        // Top, no overlap.
        var candidates = new List<(float Act, int C, int P)>();
        for (int c = 0; c < contexts; c++)
            for (int p = lo; p < hi; p++)
                if (activations[c][p] > 0) candidates.Add((activations[c][p], c, p));
        candidates.Sort((a, b) => b.Act.CompareTo(a.Act) is var x && x != 0 ? x : (a.C, a.P).CompareTo((b.C, b.P)));
        int nTop = o.TopForGeneration + o.TopForScoring;
        var top = new List<ContextWindow>();
        foreach (var (_, c, p) in candidates)
        {
            if (top.Count >= nTop) break;
            if (top.Any(w => w.Context == c && Math.Abs(w.Centre - p) <= buffer)) continue;
            top.Add(new ContextWindow(c, p));
        }
        float topAct = top.Count > 0 ? activations[top[0].Context][top[0].Centre] : 0f;
        float threshold = (float)(actThresholdFraction * topAct);

        // Importance-weighted, among activations below the smallest top activation.
        float floor = top.Count > 0 ? top.Min(w => activations[w.Context][w.Centre]) : float.PositiveInfinity;
        var pool = new List<(double W, int C, int P)>();
        for (int c = 0; c < contexts; c++)
            for (int p = lo; p < hi; p++)
            {
                float a = activations[c][p];
                if (a > 0 && a < floor) pool.Add((a * (double)a, c, p));
            }
        var iw = new List<ContextWindow>();
        for (int k = 0; k < o.ImportanceForGeneration + o.ImportanceForScoring && pool.Count > 0; k++)
        {
            double total = pool.Sum(q => q.W), u = rng.NextDouble() * total, cum = 0;
            int pick = pool.Count - 1;
            for (int i = 0; i < pool.Count; i++) { cum += pool[i].W; if (u < cum) { pick = i; break; } }
            iw.Add(new ContextWindow(pool[pick].C, pool[pick].P));
            pool.RemoveAt(pick);
        }

        // Random splits of top and importance-weighted windows into generation and scoring (SAEBench's randperm).
        var topOrder = top.OrderBy(_ => rng.Next()).ToList();
        var iwOrder = iw.OrderBy(_ => rng.Next()).ToList();
        var generation = topOrder.Take(o.TopForGeneration).Concat(iwOrder.Take(o.ImportanceForGeneration)).ToList();
        var scoring = topOrder.Skip(o.TopForGeneration).Concat(iwOrder.Skip(o.ImportanceForGeneration)).ToList();
        for (int k = 0; k < o.RandomForScoring && contexts > 0 && hi > lo; k++)
            scoring.Add(new ContextWindow(rng.Next(contexts), lo + rng.Next(hi - lo)));

        float MaxIn(ContextWindow w)
        {
            float m = 0;
            for (int p = Math.Max(0, w.Centre - buffer); p <= Math.Min(t - 1, w.Centre + buffer); p++) m = Math.Max(m, activations[w.Context][p]);
            return m;
        }
        var sortedGeneration = generation.OrderByDescending(MaxIn).ToArray();
        var shuffled = scoring.OrderBy(_ => rng.Next()).Select(w => (w, topAct > 0 && MaxIn(w) > threshold)).ToArray();
        return new ContextSelection(sortedGeneration, shuffled, topAct, threshold);
    }

    /// <summary>
    /// A window as text: its tokens joined (newlines shown as ↵, replacement characters dropped, as SAEBench renders them);
    /// with <paramref name="mark"/>, tokens whose activation exceeds the threshold wrapped as <c>&lt;&lt;tok&gt;&gt;</c>.
    /// </summary>
    public static string Render(IReadOnlyList<string> tokens, float[] activations, ContextWindow w, int buffer, float threshold, bool mark)
    {
        var sb = new StringBuilder();
        for (int p = Math.Max(0, w.Centre - buffer); p <= Math.Min(tokens.Count - 1, w.Centre + buffer); p++)
        {
            var tok = tokens[p].Replace("\uFFFD", "").Replace("\n", "↵");
            if (mark && activations[p] > threshold) sb.Append("<<").Append(tok).Append(">>");
            else sb.Append(tok);
        }
        return sb.ToString();
    }
}

/// <summary>
/// The deterministic offline stand-in for contexts (no network): the explanation is the smallest set of tokens covering
/// <c>coverage</c> of the active tokens' activation mass in the generation windows (read from their &lt;&lt;marks&gt;&gt;),
/// written <c>tokens: «tok» «tok»</c>; the judge predicts a window active iff it contains one of them. It measures how far
/// a latent is a token detector — not what an LLM judge measures; its score is reported as
/// <c>autointerp.offline_judge_score</c>, never as <c>autointerp_score</c>.
/// </summary>
public sealed class TokenCoverExplainer(double coverage = 0.8) : IExplainer, IJudge
{
    public const string OfflineName = "offline-token-cover";

    public string Name => OfflineName;

    public string Explain(int latent, IReadOnlyList<GenerationExample> examples, CancellationToken cancellation)
    {
        var mass = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var e in examples)
        {
            var marked = System.Text.RegularExpressions.Regex.Matches(e.Text, "<<(.*?)>>").Select(m => m.Groups[1].Value).ToList();
            foreach (var tok in marked) mass[tok] = mass.GetValueOrDefault(tok) + e.Activation / Math.Max(1, marked.Count);
        }
        double total = mass.Values.Sum(), covered = 0;
        var chosen = new List<string>();
        foreach (var (tok, m) in mass.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (total <= 0 || covered >= coverage * total * (1 - 1e-12)) break;
            chosen.Add(tok);
            covered += m;
        }
        return "tokens: " + string.Join(" ", chosen.Select(t => "«" + t + "»"));
    }

    public IReadOnlyCollection<int> PredictActive(string explanation, IReadOnlyList<JudgeExample> examples, CancellationToken cancellation)
    {
        var tokens = System.Text.RegularExpressions.Regex.Matches(explanation, "«(.*?)»").Select(m => m.Groups[1].Value).Where(t => t.Length > 0).ToList();
        var predicted = new List<int>();
        for (int i = 0; i < examples.Count; i++)
            if (tokens.Any(t => examples[i].Text.Contains(t, StringComparison.Ordinal))) predicted.Add(i);
        return predicted;
    }
}
