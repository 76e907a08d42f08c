using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.Shared;

/// <summary>
/// Per-example features of a chosen set of examples, mean-pooled over each example's valid positions: the SAE code
/// (<see cref="Latents"/>, examples × d_sae) and/or the model's activations (<see cref="Activations"/>, examples × d_model).
/// Row i belongs to <see cref="Examples"/>[i] (ascending). An example with no valid position has a zero row.
/// </summary>
public sealed class PooledExamples
{
    private readonly int[] _examples;

    /// <param name="examples">Example ids, ascending and distinct, one per row of the matrices.</param>
    public PooledExamples(int[] examples, HostMatrix? latents, HostMatrix? activations)
    {
        for (int i = 1; i < examples.Length; i++)
            if (examples[i] <= examples[i - 1]) throw new ArgumentException("Example ids must be ascending and distinct.", nameof(examples));
        if (latents is not null && latents.Rows != examples.Length || activations is not null && activations.Rows != examples.Length)
            throw new ArgumentException($"{examples.Length} examples but {latents?.Rows} latent rows and {activations?.Rows} activation rows.");
        _examples = examples;
        Latents = latents;
        Activations = activations;
    }

    public ReadOnlySpan<int> Examples => _examples;
    public int Count => _examples.Length;
    public HostMatrix? Latents { get; }
    public HostMatrix? Activations { get; }

    /// <summary>The row of <paramref name="example"/>, or −1 when it is not in the set.</summary>
    public int RowOf(int example)
    {
        int i = Array.BinarySearch(_examples, example);
        return i >= 0 ? i : -1;
    }

    /// <summary>Copies the rows of <paramref name="examples"/> (each must be in the set) of <paramref name="source"/> into a new matrix.</summary>
    public HostMatrix Gather(HostMatrix source, ReadOnlySpan<int> examples)
    {
        var result = new HostMatrix(examples.Length, source.Cols);
        for (int i = 0; i < examples.Length; i++)
        {
            int row = RowOf(examples[i]);
            if (row < 0) throw new ArgumentException($"Example {examples[i]} was not pooled.", nameof(examples));
            source.Row(row).CopyTo(result.Row(i));
        }
        return result;
    }
}

/// <summary>
/// Collects mean-pooled features of a fixed set of examples from batches of whole examples (e.g. the shared test-split
/// batches an evaluator observes). Memory: one row per chosen example; per-batch work only on the chosen rows.
/// </summary>
public sealed class PoolingCollector
{
    private readonly int[] _examples;
    private readonly HostMatrix? _latents, _activations;
    private readonly bool[] _seen;
    private double[] _scratch = [];

    /// <param name="examples">The examples to keep (any order; duplicates ignored).</param>
    /// <param name="latentWidth">d_sae, or 0 to keep no latents.</param>
    /// <param name="activationWidth">d_model, or 0 to keep no activations.</param>
    public PoolingCollector(IEnumerable<int> examples, int latentWidth, int activationWidth)
    {
        _examples = examples.Distinct().Order().ToArray();
        if (_examples.Length > 0 && _examples[0] < 0) throw new ArgumentOutOfRangeException(nameof(examples), _examples[0], "Example indices must be ≥ 0.");
        _latents = latentWidth > 0 ? new HostMatrix(_examples.Length, latentWidth) : null;
        _activations = activationWidth > 0 ? new HostMatrix(_examples.Length, activationWidth) : null;
        _seen = new bool[_examples.Length];
    }

    public ReadOnlySpan<int> Examples => _examples;

    public void Observe(SaeBatch batch) => Observe(batch.X, batch.F, batch.Source.ExampleIndex, batch.Source.Valid);

    /// <summary>Pools the chosen examples of a batch: rows are example-major and every example is whole.</summary>
    /// <param name="x">Activations, rows × d_model (ignored when no activations are kept).</param>
    /// <param name="f">Codes, rows × d_sae (ignored when no latents are kept).</param>
    public void Observe(HostMatrix x, HostMatrix? f, ReadOnlySpan<int> exampleIndex, ReadOnlySpan<bool> valid)
    {
        int rows = exampleIndex.Length;
        for (int r = 0; r < rows;)
        {
            int e = exampleIndex[r], end = r + 1;
            while (end < rows && exampleIndex[end] == e) end++;
            int slot = Array.BinarySearch(_examples, e);
            if (slot >= 0)
            {
                if (_latents is not null) Pool(f ?? throw new ArgumentNullException(nameof(f)), r, end, valid, _latents.Row(slot));
                if (_activations is not null) Pool(x, r, end, valid, _activations.Row(slot));
                _seen[slot] = true;
            }
            r = end;
        }
    }

    private void Pool(HostMatrix source, int start, int end, ReadOnlySpan<bool> valid, Span<float> destination)
    {
        if (source.Cols != destination.Length)
            throw new ArgumentException($"Batch has {source.Cols} columns; the collector keeps {destination.Length}.");
        if (end - start == 1)
        {
            if (valid[start]) source.Row(start).CopyTo(destination);
            else destination.Clear();
            return;
        }
        if (_scratch.Length < destination.Length) _scratch = new double[destination.Length];
        var acc = _scratch.AsSpan(0, destination.Length);
        acc.Clear();
        int count = 0;
        for (int r = start; r < end; r++)
        {
            if (!valid[r]) continue;
            count++;
            var row = source.Row(r);
            for (int j = 0; j < acc.Length; j++) acc[j] += row[j];
        }
        for (int j = 0; j < acc.Length; j++) destination[j] = count > 0 ? (float)(acc[j] / count) : 0f;
    }

    /// <summary>The pooled features; throws when a chosen example never arrived.</summary>
    public PooledExamples Finish()
    {
        int missing = Array.IndexOf(_seen, false);
        if (missing >= 0)
            throw new InvalidOperationException($"Example {_examples[missing]} was chosen for pooling but never observed ({_seen.Count(s => !s)} missing).");
        return new PooledExamples(_examples, _latents, _activations);
    }
}

/// <summary>Encodes only chosen examples of a split: whole examples are gathered into compact batches before the SAE runs.</summary>
public static class ExampleEncoding
{
    /// <summary>Examples further apart than this are read as separate ranges of the activation source.</summary>
    public const int MaxGap = 32;

    /// <summary>
    /// Mean-pooled latents (when <paramref name="latents"/>) and activations (when <paramref name="activations"/>) of
    /// <paramref name="examples"/> of <paramref name="split"/>. Reads the activation source over runs of nearby examples
    /// and encodes only the chosen rows, in batches of at most <see cref="EvaluationContext.BatchRows"/> rows.
    /// </summary>
    public static PooledExamples EncodePooled(EvaluationContext context, Split split, IEnumerable<int> examples,
        bool latents, bool activations, CancellationToken cancellation = default)
    {
        var collector = new PoolingCollector(examples, latents ? context.Sae.DSae : 0, activations ? context.Model.Info.DModel : 0);
        var chosen = collector.Examples.ToArray();
        if (chosen.Length == 0) return collector.Finish();
        var source = context.Model.Activations(split);
        int positions = source.Shape.Positions, d = source.Shape.DModel;
        if (chosen[^1] >= source.Shape.Examples)
            throw new ArgumentOutOfRangeException(nameof(examples), chosen[^1], $"The {split} split has {source.Shape.Examples} examples.");
        int capacity = Math.Max(context.BatchRows / positions, 1) * positions;
        using var x = HostMatrix.Rent(capacity, d, clear: false);
        using var f = latents ? HostMatrix.Rent(capacity, context.Sae.DSae, clear: false) : null;
        var index = new int[capacity];
        var valid = new bool[capacity];
        int rows = 0;

        void Flush()
        {
            if (rows == 0) return;
            var xv = x.SliceRows(0, rows);
            HostMatrix? fv = null;
            if (f is not null)
            {
                fv = f.SliceRows(0, rows);
                context.Sae.Encode(context.Backend, xv, fv);
            }
            collector.Observe(xv, fv, index.AsSpan(0, rows), valid.AsSpan(0, rows));
            rows = 0;
        }

        int next = 0;
        foreach (var range in Runs(chosen, MaxGap))
        {
            cancellation.ThrowIfCancellationRequested();
            foreach (var batch in source.Batches(capacity, range))
            {
                using (batch)
                {
                    var ex = batch.ExampleIndex;
                    for (int r = 0; r < batch.Rows; r += positions)
                    {
                        int e = ex[r];
                        while (next < chosen.Length && chosen[next] < e) next++;
                        if (next >= chosen.Length || chosen[next] != e) continue;
                        if (rows + positions > capacity) Flush();
                        batch.Activations.Span.Slice(r * d, positions * d).CopyTo(x.Span.Slice(rows * d, positions * d));
                        batch.ExampleIndex.Slice(r, positions).CopyTo(index.AsSpan(rows));
                        batch.Valid.Slice(r, positions).CopyTo(valid.AsSpan(rows));
                        rows += positions;
                    }
                }
            }
        }
        Flush();
        return collector.Finish();
    }

    /// <summary>Ranges covering ascending distinct <paramref name="sorted"/>, merging neighbours at most <paramref name="maxGap"/> apart.</summary>
    public static IEnumerable<Range> Runs(int[] sorted, int maxGap)
    {
        if (sorted.Length == 0) yield break;
        int start = sorted[0], last = sorted[0];
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i] - last > maxGap)
            {
                yield return start..(last + 1);
                start = sorted[i];
            }
            last = sorted[i];
        }
        yield return start..(last + 1);
    }
}

/// <summary>Seeded sampling of example indices (uniform, without replacement).</summary>
public static class Sampling
{
    /// <summary>A seed for one evaluator's random choices: the configured seed mixed with a fixed salt (SplitMix64 of both).</summary>
    public static int Derive(int seed, string salt)
    {
        ulong h = 14695981039346656037UL; // FNV-1a of the salt
        foreach (char c in salt) h = unchecked((h ^ c) * 1099511628211UL);
        ulong z = unchecked(((ulong)(uint)seed << 32 ^ h) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary><paramref name="count"/> distinct elements of <paramref name="pool"/> chosen uniformly (all when it has fewer), ascending.</summary>
    public static int[] Choose(ReadOnlySpan<int> pool, int count, Random rng)
    {
        var copy = pool.ToArray();
        int k = Math.Min(Math.Max(count, 0), copy.Length);
        for (int i = 0; i < k; i++)
        {
            int j = i + rng.Next(copy.Length - i);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        var result = copy[..k];
        Array.Sort(result);
        return result;
    }

    /// <summary>Indices e with <paramref name="predicate"/>(e) true, ascending.</summary>
    public static int[] Where(int count, Func<int, bool> predicate)
    {
        var list = new List<int>();
        for (int e = 0; e < count; e++) if (predicate(e)) list.Add(e);
        return list.ToArray();
    }
}
