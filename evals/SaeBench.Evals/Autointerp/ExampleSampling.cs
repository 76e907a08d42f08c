namespace SaeBench.Evals.Autointerp;

/// <summary>How many examples of each kind to draw for one latent (SAEBench's defaults).</summary>
public sealed record ExampleSamplingOptions
{
    public int TopForGeneration { get; init; } = 10;
    public int ImportanceForGeneration { get; init; } = 5;
    public int TopForScoring { get; init; } = 2;
    public int ImportanceForScoring { get; init; } = 2;
    public int RandomForScoring { get; init; } = 10;
    /// <summary>An example is active iff its activation &gt; this fraction of the latent's top activation.</summary>
    public double ActiveFraction { get; init; } = 0.01;

    public static ExampleSamplingOptions Default { get; } = new();

    public void Validate()
    {
        foreach (var (name, v) in new[] { (nameof(TopForGeneration), TopForGeneration), (nameof(ImportanceForGeneration), ImportanceForGeneration),
                     (nameof(TopForScoring), TopForScoring), (nameof(ImportanceForScoring), ImportanceForScoring), (nameof(RandomForScoring), RandomForScoring) })
            if (v < 0) throw new ArgumentOutOfRangeException(name, v, "Counts must be ≥ 0.");
        if (!(ActiveFraction >= 0 && ActiveFraction < 1)) throw new ArgumentOutOfRangeException(nameof(ActiveFraction), ActiveFraction, "Must be in [0, 1).");
    }
}

/// <summary>A scoring example: its index in the latent's example set and whether it counts as active.</summary>
public readonly record struct ScoringExample(int Index, bool Active);

/// <summary>
/// The examples chosen for one latent: generation examples (strongest first) and the shuffled scoring examples,
/// disjoint from them and from each other.
/// </summary>
public sealed record LatentExamples(int[] Generation, ScoringExample[] Scoring, float TopActivation);

/// <summary>Seeded example selection of the autointerp protocol (see README.md).</summary>
public static class ExampleSampling
{
    /// <summary>
    /// Chooses examples from <paramref name="activations"/> (one value per example: the latent's largest activation
    /// in it). Top = the 12 highest activations among examples with activation &gt; 0 (ties → lower index), split at random
    /// into 10 for generation and 2 for scoring. Importance-sampled = 7 drawn without replacement from the remaining
    /// examples with probability ∝ activation², split at random into 5 for generation and 2 for scoring (SAEBench's
    /// splits). Generation examples are returned strongest first. Random = 10 drawn uniformly
    /// without replacement from all examples not yet chosen. Scoring examples are shuffled and labelled active iff
    /// activation &gt; 1% of the top activation. When there are too few examples, each kind gets what is left.
    /// </summary>
    public static LatentExamples Select(ReadOnlySpan<float> activations, int seed, ExampleSamplingOptions? options = null)
    {
        var o = options ?? ExampleSamplingOptions.Default;
        o.Validate();
        var rng = new Random(seed);
        int n = activations.Length;
        var act = activations.ToArray();
        foreach (float a in act)
            if (!float.IsFinite(a)) throw new ArgumentException("Activations must be finite.", nameof(activations));

        var positive = Enumerable.Range(0, n).Where(i => act[i] > 0).ToArray();
        Array.Sort(positive, (a, b) => act[b].CompareTo(act[a]) is var c && c != 0 ? c : a.CompareTo(b));
        float top = positive.Length > 0 ? act[positive[0]] : 0f;
        var chosen = new bool[n];
        var generation = new List<int>();
        var scoring = new List<int>();

        // Top: the 12 highest, split at random into 10 for generation and 2 for scoring (SAEBench's random.sample split).
        int nTop = Math.Min(positive.Length, o.TopForGeneration + o.TopForScoring);
        var topChosen = positive[..nTop];
        foreach (int i in topChosen) chosen[i] = true;
        Shuffle(topChosen, rng);
        for (int r = 0; r < nTop; r++) (r < o.TopForGeneration ? generation : scoring).Add(topChosen[r]);

        // Importance-weighted: 7 draws ∝ activation² without replacement, split at random 5 / 2 (so the scoring ones are not
        // the later, lighter draws).
        var weights = new double[n];
        for (int i = 0; i < n; i++) weights[i] = chosen[i] ? 0 : (double)act[i] * act[i] * (act[i] > 0 ? 1 : 0);
        var drawn = new List<int>();
        for (int k = 0; k < o.ImportanceForGeneration + o.ImportanceForScoring; k++)
        {
            int pick = WeightedDraw(weights, rng);
            if (pick < 0) break;
            weights[pick] = 0;
            chosen[pick] = true;
            drawn.Add(pick);
        }
        var importance = drawn.ToArray();
        Shuffle(importance, rng);
        for (int k = 0; k < importance.Length; k++) (k < o.ImportanceForGeneration ? generation : scoring).Add(importance[k]);
        // Generation examples are shown strongest first (SAEBench sorts them by their maximum activation).
        generation.Sort((a, b) => act[b].CompareTo(act[a]) is var c && c != 0 ? c : a.CompareTo(b));

        var remaining = Enumerable.Range(0, n).Where(i => !chosen[i]).ToArray();
        int nRandom = Math.Min(o.RandomForScoring, remaining.Length);
        for (int k = 0; k < nRandom; k++)
        {
            int j = k + rng.Next(remaining.Length - k);
            (remaining[k], remaining[j]) = (remaining[j], remaining[k]);
            scoring.Add(remaining[k]);
        }

        var shuffled = scoring.ToArray();
        for (int k = shuffled.Length - 1; k > 0; k--)
        {
            int j = rng.Next(k + 1);
            (shuffled[k], shuffled[j]) = (shuffled[j], shuffled[k]);
        }
        double threshold = o.ActiveFraction * top;
        var labelled = shuffled.Select(i => new ScoringExample(i, top > 0 && act[i] > threshold)).ToArray();
        return new LatentExamples(generation.ToArray(), labelled, top);
    }

    /// <summary>Fraction of scoring examples the judge got right; <paramref name="predictedActive"/> are positions in <paramref name="scoring"/>.</summary>
    public static double Score(IReadOnlyList<ScoringExample> scoring, IReadOnlyCollection<int> predictedActive)
    {
        ArgumentNullException.ThrowIfNull(scoring);
        ArgumentNullException.ThrowIfNull(predictedActive);
        if (scoring.Count == 0) return double.NaN;
        var predicted = new HashSet<int>(predictedActive);
        int correct = 0;
        for (int k = 0; k < scoring.Count; k++)
            if (predicted.Contains(k) == scoring[k].Active) correct++;
        return (double)correct / scoring.Count;
    }

    /// <summary>A seeded sample of <paramref name="count"/> latents (fewer if fewer are given), returned in ascending order.</summary>
    public static int[] SampleLatents(ReadOnlySpan<int> alive, int count, int seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Must be ≥ 0.");
        var pool = alive.ToArray();
        var rng = new Random(seed);
        int k = Math.Min(count, pool.Length);
        for (int i = 0; i < k; i++)
        {
            int j = i + rng.Next(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        var result = pool[..k];
        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// A per-latent seed derived from the configured seed (SplitMix64 mixing; stable across processes and
    /// platforms, unlike <see cref="HashCode"/>).
    /// </summary>
    public static int LatentSeed(int baseSeed, int latent)
    {
        ulong z = unchecked(((ulong)(uint)baseSeed << 32 | (uint)latent) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    private static void Shuffle(int[] items, Random rng)
    {
        for (int k = items.Length - 1; k > 0; k--)
        {
            int j = rng.Next(k + 1);
            (items[k], items[j]) = (items[j], items[k]);
        }
    }

    private static int WeightedDraw(double[] weights, Random rng)
    {
        double total = 0;
        foreach (double w in weights) total += w;
        if (!(total > 0)) return -1;
        double u = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            cumulative += weights[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last;
    }
}

/// <summary>The offline explainer's rule: the smallest set of class labels covering a share of the activation mass.</summary>
public static class LabelCover
{
    /// <summary>
    /// Labels sorted by their total activation (descending; ties → smaller label), taken until their share of the
    /// total reaches <paramref name="coverage"/>. Greedy by mass gives the smallest such set. Returned ascending.
    /// </summary>
    public static int[] Smallest(ReadOnlySpan<int> labels, ReadOnlySpan<float> activations, double coverage = 0.8)
    {
        if (labels.Length != activations.Length) throw new ArgumentException($"{labels.Length} labels for {activations.Length} activations.");
        if (!(coverage > 0 && coverage <= 1)) throw new ArgumentOutOfRangeException(nameof(coverage), coverage, "Must be in (0, 1].");
        var mass = new Dictionary<int, double>();
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double a = Math.Max(0, activations[i]);
            mass[labels[i]] = mass.GetValueOrDefault(labels[i]) + a;
            total += a;
        }
        if (!(total > 0)) return [];
        var order = mass.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).ToArray();
        var result = new List<int>();
        double covered = 0;
        foreach (var (label, m) in order)
        {
            result.Add(label);
            covered += m;
            if (covered >= coverage * total * (1 - 1e-12)) break;
        }
        result.Sort();
        return result.ToArray();
    }
}
