using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Models;

/// <summary>
/// The statistics of <see cref="IDownstreamLoss"/> from logits that a model computed (a classifier's whole batch, or a
/// language model's chunk of tokens): log-softmax in double (never log of softmax), cross-entropy against a target,
/// KL from the clean run, and argmax correctness.
/// </summary>
public static class LogitStatistics
{
    /// <summary>log-softmax of one row, in double.</summary>
    public static void LogSoftmax(ReadOnlySpan<float> logits, Span<double> destination)
    {
        double max = double.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += Math.Exp(logits[i] - max);
        double lse = max + Math.Log(sum);
        for (int i = 0; i < logits.Length; i++) destination[i] = logits[i] - lse;
    }

    /// <summary>KL(p ‖ q) from log-probabilities: Σ p (log p − log q), with 0·log 0 = 0; never negative.</summary>
    public static double Kl(ReadOnlySpan<double> logP, ReadOnlySpan<double> logQ)
    {
        double kl = 0;
        for (int i = 0; i < logP.Length; i++)
        {
            double p = Math.Exp(logP[i]);
            if (p > 0) kl += p * (logP[i] - logQ[i]);
        }
        return Math.Max(kl, 0);
    }

    /// <summary>
    /// Fills rows <c>[offset, offset + clean.Rows)</c> of the outcomes from the clean logits and each run's logits
    /// (<c>[rows, targets]</c> each), with the target of each row (outside <c>[0, targets)</c> = no target).
    /// </summary>
    public static void Fill(HostMatrix clean, IReadOnlyList<HostMatrix> runs, ReadOnlySpan<int> targets, DownstreamComparison into, int offset = 0)
    {
        int c = clean.Cols;
        if (runs.Count != into.Replaced.Count) throw new ArgumentException($"{runs.Count} runs for {into.Replaced.Count} outcome sets.", nameof(runs));
        var lc = new double[c];
        var lr = new double[c];
        for (int r = 0; r < clean.Rows; r++)
        {
            int row = offset + r, y = targets[r];
            bool has = y >= 0 && y < c;
            LogSoftmax(clean.Row(r), lc);
            Set(into.Clean, row, has, has ? -lc[y] : 0, 0, has && TensorPrimitives.IndexOfMax<float>(clean.Row(r)) == y);
            for (int k = 0; k < runs.Count; k++)
            {
                var logits = runs[k].Row(r);
                LogSoftmax(logits, lr);
                Set(into.Replaced[k], row, has, has ? -lr[y] : 0, Kl(lc, lr), has && TensorPrimitives.IndexOfMax<float>(logits) == y);
            }
        }
    }

    /// <summary>
    /// <see cref="IDownstreamLoss.Compare"/> for a classifier whose forward pass from the hook is row-independent and cheap
    /// (<paramref name="forwardFromHook"/>: hook values <c>[rows, DModel]</c> → logits <c>[rows, classes]</c>): the target of
    /// a row is its example's class label.
    /// </summary>
    public static DownstreamComparison ForClassifier(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements, int classes,
        Action<HostMatrix, HostMatrix> forwardFromHook)
    {
        int rows = batch.Rows;
        var result = Allocate(rows, replacements.Count);
        var runs = new List<HostMatrix>(replacements.Count);
        try
        {
            using var clean = HostMatrix.Rent(rows, classes, clear: false);
            forwardFromHook(batch.Activations, clean);
            foreach (var x in replacements)
            {
                if (x.Rows != rows) throw new ArgumentException($"A replacement has {x.Rows} rows for a batch of {rows}.", nameof(replacements));
                var logits = HostMatrix.Rent(rows, classes, clear: false);
                runs.Add(logits);
                forwardFromHook(x, logits);
            }
            Fill(clean, runs, batch.Label, result);
        }
        finally
        {
            foreach (var l in runs) l.Dispose();
        }
        return result;
    }

    /// <summary>Outcome sets for <paramref name="rows"/> rows: the clean run and <paramref name="replacements"/> runs.</summary>
    public static DownstreamComparison Allocate(int rows, int replacements) =>
        new(new RowOutcomes(rows), Enumerable.Range(0, replacements).Select(_ => new RowOutcomes(rows)).ToArray());

    private static void Set(RowOutcomes o, int row, bool hasTarget, double ce, double kl, bool correct)
    {
        o.HasTarget[row] = hasTarget;
        o.CrossEntropy[row] = ce;
        o.KlFromClean[row] = kl;
        o.Correct[row] = correct;
    }
}
