using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Shared;

public class SharedBlocksTests
{
    [Fact]
    public void Firing_counts_count_positive_entries_across_batches()
    {
        var counter = new FiringCounts(2);
        using var a = HostMatrix.FromSpan([1f, 0f, 0f, -1f], 2, 2);
        using var b = HostMatrix.FromSpan([2f, 3f], 1, 2);
        counter.Add(a);
        counter.Add(b);
        Assert.Equal(3, counter.Tokens);
        Assert.Equal(new[] { 2.0 / 3, 1.0 / 3 }, counter.Rates());
    }

    /// <summary>Sparse (TopK: stored entries) and dense (ReLU) batches of the same codes give the same counts; masked rows
    /// are left out.</summary>
    [Fact]
    public void Sparse_and_dense_batches_give_the_same_counts_and_masked_rows_do_not_count()
    {
        var rng = new Random(4);
        int n = 40, d = 6;
        var x = Enumerable.Range(0, n * d).Select(_ => (float)rng.NextDouble()).ToArray();
        var valid = Enumerable.Range(0, n).Select(i => i % 7 != 0).ToArray();
        var model = FakeModelBuilder.Create(d).WithSplit(Split.Test, x, new int[n], valid).Build();
        var eye = new HostMatrix(d, d);
        for (int i = 0; i < d; i++) eye[i, i] = 1;
        var relu = new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = eye, BEnc = Enumerable.Repeat(-0.5f, d).ToArray(), WDec = eye.Clone(), BDec = new float[d] });
        var topk = new Sae(SaeArchitectures.TopK, new SaeParameters { WEnc = eye.Clone(), BEnc = new float[d], WDec = eye.Clone(), BDec = new float[d], K = 2 });

        FiringCounts Count(Sae sae, out bool sawSparse)
        {
            var counts = new FiringCounts(d);
            bool sparse = false;
            foreach (var batch in Fixtures.EvalFixtures.Context(sae, model, batchRows: 16).Encode(Split.Test))
            {
                sparse |= batch.Nonzeros is not null;
                counts.Add(batch);
            }
            sawSparse = sparse;
            return counts;
        }

        var top = Count(topk, out bool topSparse);
        Assert.True(topSparse);
        Assert.Equal(valid.Count(v => v), top.Tokens);
        // Reference: count by hand on the valid rows.
        var expected = new long[d];
        for (int r = 0; r < n; r++)
        {
            if (!valid[r]) continue;
            var row = x.AsSpan(r * d, d).ToArray();
            foreach (int j in Enumerable.Range(0, d).OrderByDescending(j => row[j]).ThenBy(j => j).Take(2)) expected[j]++;
        }
        Assert.Equal(expected, top.Counts.ToArray());

        var dense = Count(relu, out _);
        var expectedRelu = new long[d];
        for (int r = 0; r < n; r++)
            if (valid[r]) for (int j = 0; j < d; j++) if (x[r * d + j] > 0.5f) expectedRelu[j]++;
        Assert.Equal(expectedRelu, dense.Counts.ToArray());
    }

    [Fact]
    public void Probe_labels_put_positives_first()
    {
        Assert.Equal([true, true, false], ProbeLabels.PositivesThenNegatives(2, 1));
        Assert.Empty(ProbeLabels.PositivesThenNegatives(0, 0));
    }

    /// <summary>Merging batch moments equals the moments of all the data at once (per column and totalled).</summary>
    [Fact]
    public void Chan_merges_equal_the_two_pass_moments()
    {
        var rng = new Random(2);
        var rows = Enumerable.Range(0, 50).Select(_ => new[] { rng.NextDouble() * 10, rng.NextDouble() - 3 }).ToArray();
        var mean = new double[2];
        var m2 = new double[2];
        var meanT = new double[2];
        double m2T = 0;
        long count = 0, countT = 0;
        foreach (var chunk in rows.Chunk(13))
        {
            var bMean = new double[2];
            var bM2 = new double[2];
            for (int j = 0; j < 2; j++)
            {
                bMean[j] = chunk.Average(r => r[j]);
                bM2[j] = chunk.Sum(r => (r[j] - bMean[j]) * (r[j] - bMean[j]));
            }
            Moments.MergePerColumn(mean, m2, count, bMean, bM2, chunk.Length);
            count += chunk.Length;
            countT = Moments.MergeTotal(meanT, ref m2T, countT, bMean, bM2.Sum(), chunk.Length);
        }
        for (int j = 0; j < 2; j++)
        {
            double mu = rows.Average(r => r[j]);
            Assert.Equal(mu, mean[j], 10);
            Assert.Equal(mu, meanT[j], 10);
            Assert.Equal(rows.Sum(r => (r[j] - mu) * (r[j] - mu)), m2[j], 8);
        }
        Assert.Equal(m2.Sum(), m2T, 8);
        Assert.Equal(50, countT);
    }
}
