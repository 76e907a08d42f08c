using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Autoencoders;

/// <summary>Batched encode/decode of every architecture against the naive per-element reference.</summary>
public class SaeEncodeDecodeTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create();

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var a in SaeArchitectures.All)
        {
            data.Add(a, false);
            data.Add(a, true); // small integer weights: exact sums, so top-k ties are real ties
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batched_encode_and_decode_match_the_naive_reference(string architecture, bool integers)
    {
        var sae = architecture == SaeArchitectures.Pca ? Pca() : Some.Sae(architecture, integers: integers);
        var x = Some.Matrix(23, sae.DIn, seed: 99, integers: integers);
        var f = new HostMatrix(x.Rows, sae.DSae);
        var xHat = new HostMatrix(x.Rows, sae.DIn);
        sae.Encode(Backend, x, f);
        NaiveSae.Close(NaiveSae.Encode(sae, x), f, 1e-5, $"{architecture} f");
        sae.Decode(Backend, f, xHat);
        NaiveSae.Close(NaiveSae.Decode(sae, f), xHat, 1e-5, $"{architecture} x_hat");
    }

    [Fact]
    public void Top_k_ties_go_to_the_lower_index_and_keep_exactly_k()
    {
        // Every latent sees the same pre-activation: the first k must win.
        var p = new SaeParameters
        {
            WEnc = HostMatrix.Wrap(Enumerable.Repeat(1f, 2 * 10).ToArray(), 2, 10),
            BEnc = new float[10],
            WDec = new HostMatrix(10, 2),
            BDec = new float[2],
            K = 3,
        };
        var sae = new Sae("topk", p);
        var x = HostMatrix.Wrap([1f, 2f], 1, 2);
        var f = new HostMatrix(1, 10);
        sae.Encode(Backend, x, f);
        Assert.Equal([3f, 3f, 3f, 0f, 0f, 0f, 0f, 0f, 0f, 0f], f.ToArray());
    }

    [Fact]
    public void Top_k_keeps_fewer_than_k_when_fewer_are_positive()
    {
        var p = new SaeParameters
        {
            WEnc = HostMatrix.Wrap([1f, -1f, -2f, 0.5f], 1, 4),
            BEnc = new float[4],
            WDec = new HostMatrix(4, 1),
            BDec = new float[1],
            K = 3,
        };
        var f = new HostMatrix(1, 4);
        new Sae("topk", p).Encode(Backend, HostMatrix.Wrap([2f], 1, 1), f);
        Assert.Equal([2f, 0f, 0f, 1f], f.ToArray());
    }

    [Theory]
    [InlineData("batchtopk")]
    [InlineData("mutual_choice")]
    [InlineData("feature_choice")]
    public void Without_a_threshold_batch_architectures_select_within_the_batch(string architecture)
    {
        var sae = Some.Sae(architecture, integers: true);
        sae.Parameters.ScalarThreshold = null;
        sae.Parameters.Threshold = null;
        sae.Parameters.K = 4;
        var x = Some.Matrix(17, sae.DIn, seed: 5, integers: true);
        var f = new HostMatrix(x.Rows, sae.DSae);
        sae.Encode(Backend, x, f);
        NaiveSae.Close(NaiveSae.Encode(sae, x), f, 0, architecture);
    }

    [Fact]
    public void Input_scale_is_applied_before_encoding_and_undone_after_decoding()
    {
        var sae = Some.Sae("relu");
        var x = Some.Matrix(9, sae.DIn, seed: 3);
        var scaled = Some.Sae("relu");
        scaled.Parameters.InputScale = 2.5f;
        var f1 = new HostMatrix(9, sae.DSae);
        var f2 = new HostMatrix(9, sae.DSae);
        var x25 = x.Clone();
        foreach (ref var v in x25.Span) v *= 2.5f;
        sae.Encode(Backend, x25, f1);
        scaled.Encode(Backend, x, f2);
        Some.Close(f1, f2, 1e-5, "f");
        var r1 = new HostMatrix(9, sae.DIn);
        var r2 = new HostMatrix(9, sae.DIn);
        sae.Decode(Backend, f1, r1);
        scaled.Decode(Backend, f2, r2);
        foreach (ref var v in r1.Span) v /= 2.5f;
        Some.Close(r1, r2, 1e-5, "x_hat");
    }

    [Theory]
    [InlineData("topk", false)]
    [InlineData("relu", false)]
    [InlineData("identity", false)]
    [InlineData("topk", true)]
    public void Sparse_and_dense_decode_agree(string architecture, bool manyRows)
    {
        var sae = Some.Sae(architecture, dIn: 24, dSae: architecture == "identity" ? 24 : 200);
        var x = Some.Matrix(manyRows ? 130 : 7, sae.DIn, seed: 11);
        var f = new HostMatrix(x.Rows, sae.DSae);
        sae.Encode(Backend, x, f);
        var dense = new HostMatrix(x.Rows, sae.DIn);
        var sparse = new HostMatrix(x.Rows, sae.DIn);
        var auto = new HostMatrix(x.Rows, sae.DIn);
        sae.DecodeDense(Backend, f, dense);
        sae.DecodeSparse(f, sparse);
        sae.Decode(Backend, f, auto);
        Some.Close(dense, sparse, 1e-5, "sparse");
        Some.Close(dense, auto, 1e-5, "auto");
    }

    [Theory]
    [InlineData("topk", 7)]
    [InlineData("topk", 130)]
    [InlineData("relu", 130)]
    [InlineData("jumprelu", 130)]
    [InlineData("identity", 130)]
    public void Stored_entries_match_the_dense_code_and_decode_to_the_same_bits(string architecture, int rows)
    {
        var sae = Some.Sae(architecture, dIn: 24, dSae: architecture == "identity" ? 24 : 1000);
        if (architecture is "relu" or "jumprelu")
        {
            // A very negative encoder bias makes the code sparse (≤ 1/32 non-zero), so the sweep path stores it.
            for (int j = 0; j < sae.DSae; j++) sae.Parameters.BEnc[j] = j % 40 == 0 ? 0.1f : -50f;
        }
        var x = Some.Matrix(rows, sae.DIn, seed: 21);
        var f = new HostMatrix(rows, sae.DSae);
        var nonzeros = new SparseRows(rows, sae.DSae, capacity: rows * (int)Math.Ceiling(sae.DSae * Sae.SparseDecodeMaxDensity));
        sae.Encode(Backend, x, f, nonzeros);
        var plain = new HostMatrix(rows, sae.DSae);
        sae.Encode(Backend, x, plain);
        Assert.Equal(plain.ToArray(), f.ToArray());

        if (architecture == "identity")
        {
            Assert.False(nonzeros.IsSet); // a dense code is left to the dense paths
            return;
        }
        Assert.True(nonzeros.IsSet);
        Assert.Equal(rows, nonzeros.Rows);
        var rebuilt = new float[rows * sae.DSae];
        for (int r = 0; r < rows; r++)
        {
            var index = nonzeros.RowIndices(r);
            var value = nonzeros.RowValues(r);
            for (int e = 0; e < index.Length; e++)
            {
                if (e > 0) Assert.True(index[e] > index[e - 1], "ascending columns");
                rebuilt[r * sae.DSae + index[e]] = value[e];
            }
            if (architecture == "topk") Assert.Equal(sae.Parameters.K, index.Length);
        }
        Assert.Equal(f.ToArray(), rebuilt);
        Assert.True(f.ToArray().Count(v => v != 0) > 0);

        var fromEntries = new HostMatrix(rows, sae.DIn);
        var fromSweep = new HostMatrix(rows, sae.DIn);
        sae.Decode(Backend, f, fromEntries, nonzeros);
        sae.DecodeSparse(f, fromSweep);
        Assert.Equal(fromSweep.ToArray(), fromEntries.ToArray());
    }

    [Theory]
    [InlineData("topk", 4)]
    [InlineData("topk", 60)] // k > d_sae/32: the GEMM decodes, as without stored entries
    [InlineData("relu", 0)]
    [InlineData("batchtopk", 0)]
    public void Decoding_with_stored_entries_gives_the_same_bits_as_without(string architecture, int k)
    {
        var sae = Some.Sae(architecture, dIn: 24, dSae: 200);
        if (k > 0)
        {
            var p = sae.Parameters.Clone();
            p.K = k;
            sae = new Sae(architecture, p);
        }
        var x = Some.Matrix(130, sae.DIn, seed: 8);
        var f = new HostMatrix(x.Rows, sae.DSae);
        var nonzeros = new SparseRows(x.Rows, sae.DSae, capacity: x.Rows * 200);
        sae.Encode(Backend, x, f, nonzeros);
        var with = new HostMatrix(x.Rows, sae.DIn);
        var without = new HostMatrix(x.Rows, sae.DIn);
        sae.Decode(Backend, f, with, nonzeros);
        sae.Decode(Backend, f, without);
        Assert.Equal(without.ToArray(), with.ToArray());
    }

    [Fact]
    public void Stored_entries_that_do_not_fit_are_left_unset()
    {
        var sae = Some.Sae("relu", dIn: 24, dSae: 200);
        var x = Some.Matrix(50, sae.DIn, seed: 3);
        var nonzeros = new SparseRows(50, sae.DSae, capacity: 50 * 200 / 32);
        sae.Encode(Backend, x, new HostMatrix(50, sae.DSae), nonzeros);
        Assert.False(nonzeros.IsSet); // random ReLU codes are about half non-zero
    }

    [Fact]
    public void Top_k_codes_are_sparse_enough_for_the_sparse_path()
    {
        var sae = Some.Sae("topk", dIn: 24, dSae: 200);
        var f = new HostMatrix(10, 200);
        sae.Encode(Backend, Some.Matrix(10, 24, 4), f);
        double density = f.ToArray().Count(v => v != 0) / (double)f.Length;
        Assert.True(density <= Sae.SparseDecodeMaxDensity, $"density {density}");
    }

    [Fact]
    public void Mismatched_buffers_are_refused()
    {
        var sae = Some.Sae("relu");
        Assert.Throws<ArgumentException>(() => sae.Encode(Backend, new HostMatrix(3, sae.DIn + 1), new HostMatrix(3, sae.DSae)));
        Assert.Throws<ArgumentException>(() => sae.Decode(Backend, new HostMatrix(3, sae.DSae), new HostMatrix(4, sae.DIn)));
    }

    private static Sae Pca()
    {
        // Orthonormal rows: the first 5 standard basis vectors, rotated by a Householder reflection.
        int d = 12;
        var v = Some.Vector(d, 8);
        double norm = Math.Sqrt(v.Sum(a => (double)a * a));
        var c = new HostMatrix(5, d);
        for (int r = 0; r < 5; r++)
        for (int i = 0; i < d; i++)
            c[r, i] = (float)((r == i ? 1 : 0) - 2 * v[r] * v[i] / (norm * norm));
        return Sae.Pca(c, Some.Vector(d, 9));
    }
}
