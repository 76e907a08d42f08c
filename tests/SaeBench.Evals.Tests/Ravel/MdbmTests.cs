using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Models;
using SaeBench.Evals.Ravel;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>MDBM against analytic losses: the mask gradient against finite differences, and a toy whose right mask is known.</summary>
public sealed class MdbmTests
{
    private static readonly ComputeBackend Cpu = CpuBackend.Create();

    /// <summary>loss_b = cross-entropy of logits U·row against target_b (U fixed), with its exact gradient.</summary>
    private sealed class LinearSoftmaxLoss(double[,] u, int[] targets) : IEditedRowLoss
    {
        public int Calls { get; private set; }

        public HookRowGradient Evaluate(HostMatrix rows)
        {
            Calls++;
            int v = u.GetLength(0), d = u.GetLength(1);
            var losses = new double[rows.Rows];
            var gradient = new HostMatrix(rows.Rows, d);
            for (int b = 0; b < rows.Rows; b++)
            {
                var logits = new double[v];
                for (int k = 0; k < v; k++)
                for (int i = 0; i < d; i++) logits[k] += u[k, i] * rows[b, i];
                double max = logits.Max();
                double z = logits.Sum(l => Math.Exp(l - max));
                losses[b] = -(logits[targets[b]] - max - Math.Log(z));
                for (int k = 0; k < v; k++)
                {
                    double coefficient = Math.Exp(logits[k] - max) / z - (k == targets[b] ? 1 : 0);
                    for (int i = 0; i < d; i++) gradient[b, i] += (float)(coefficient * u[k, i]);
                }
            }
            return new HookRowGradient(losses, gradient);
        }
    }

    private static HostMatrix Random(int rows, int cols, Random rng, double scale = 1, bool positive = false)
    {
        var m = new HostMatrix(rows, cols);
        for (int i = 0; i < m.Span.Length; i++) m.Span[i] = (float)((positive ? rng.NextDouble() : rng.NextDouble() * 2 - 1) * scale);
        return m;
    }

    [Fact]
    public void The_temperature_falls_log_linearly_from_1_to_1e_minus_4()
    {
        Assert.Equal(1, Mdbm.Temperature(0, 5), 12);
        Assert.Equal(0.1, Mdbm.Temperature(1, 5), 12);
        Assert.Equal(0.01, Mdbm.Temperature(2, 5), 12);
        Assert.Equal(1e-4, Mdbm.Temperature(4, 5), 12);
        Assert.Equal(1, Mdbm.Temperature(0, 1), 12);
    }

    [Fact]
    public void The_mask_gradient_matches_finite_differences()
    {
        var rng = new Random(5);
        const int d = 5, f = 7, v = 4, n = 3;
        // A ReLU SAE with an input scale, so that encoding and the decoder's 1/scale both take part.
        var sae = new Sae(SaeArchitectures.Relu, new SaeParameters
        {
            WEnc = Random(d, f, rng), BEnc = new float[f], WDec = Random(f, d, rng), BDec = Random(1, d, rng).Span.ToArray(), InputScale = 2.5f,
        });
        var u = new double[v, d];
        for (int k = 0; k < v; k++) for (int i = 0; i < d; i++) u[k, i] = rng.NextDouble() * 4 - 2;
        var loss = new LinearSoftmaxLoss(u, [0, 2, 3]);
        var batch = new MdbmBatch(Random(n, d, rng, 3), Random(n, d, rng, 3), loss);
        var mask = Enumerable.Range(0, f).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        const double t = 0.7;

        var gradient = new float[f];
        Mdbm.Step(sae, Cpu, batch, mask, t, gradient);
        Assert.Contains(gradient, g => Math.Abs(g) > 1e-3); // not a vacuous comparison

        for (int i = 0; i < f; i++)
        {
            const float h = 1e-2f;
            var plus = (float[])mask.Clone();
            var minus = (float[])mask.Clone();
            plus[i] += h;
            minus[i] -= h;
            var scratch = new float[f];
            double numeric = (Mdbm.Step(sae, Cpu, batch, plus, t, scratch) - Mdbm.Step(sae, Cpu, batch, minus, t, scratch)) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"latent {i}: analytic {gradient[i]}, numeric {numeric}");
        }
    }

    /// <summary>
    /// A linear "model" whose loss reads only latents 1 and 4 (the attribute's): the hook row is the code itself (identity
    /// decoder), the logits of the two values read row[1] and row[4]. Cause pairs want the source's value; swapping any other
    /// latent changes nothing. The trained hard mask is exactly {1, 4}.
    /// </summary>
    [Fact]
    public void Training_selects_exactly_the_latents_the_loss_depends_on()
    {
        const int d = 6;
        var eye = new HostMatrix(d, d);
        for (int i = 0; i < d; i++) eye[i, i] = 1;
        var sae = new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = eye, BEnc = new float[d], WDec = eye.Clone(), BDec = new float[d] });
        var u = new double[2, d];
        u[0, 1] = 3; // value 0 is read from latent 1
        u[1, 4] = 3; // value 1 from latent 4
        var rng = new Random(9);
        var batches = new List<MdbmBatch>();
        for (int b = 0; b < 6; b++)
        {
            // Bases have value 0 (latent 1 on), sources value 1 (latent 4 on); other latents are random noise on both.
            var baseRows = Random(4, d, rng, positive: true);
            var sourceRows = Random(4, d, rng, positive: true);
            for (int r = 0; r < 4; r++)
            {
                baseRows[r, 1] = 1; baseRows[r, 4] = 0;
                sourceRows[r, 1] = 0; sourceRows[r, 4] = 1;
            }
            batches.Add(new MdbmBatch(baseRows, sourceRows, new LinearSoftmaxLoss(u, [1, 1, 1, 1])));
        }
        var trained = Mdbm.Train(sae, Cpu, batches, epochs: 2, learningRate: 1e-3);
        Assert.Equal(12, trained.Steps);
        Assert.Equal([1, 4], trained.Selected);
        Assert.True(trained.LastLoss < trained.FirstLoss, $"loss {trained.FirstLoss} → {trained.LastLoss}");
    }

    /// <summary>Isolation pairs alone (target: the base's value) push the attribute's latents away from the mask.</summary>
    [Fact]
    public void Isolation_pairs_keep_the_attribute_latents_out()
    {
        const int d = 4;
        var eye = new HostMatrix(d, d);
        for (int i = 0; i < d; i++) eye[i, i] = 1;
        var sae = new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = eye, BEnc = new float[d], WDec = eye.Clone(), BDec = new float[d] });
        var u = new double[2, d];
        u[0, 0] = 3;
        u[1, 2] = 3;
        var baseRows = new HostMatrix(2, d);
        var sourceRows = new HostMatrix(2, d);
        for (int r = 0; r < 2; r++) { baseRows[r, 0] = 1; sourceRows[r, 2] = 1; }
        var trained = Mdbm.Train(sae, Cpu, [new MdbmBatch(baseRows, sourceRows, new LinearSoftmaxLoss(u, [0, 0]))], epochs: 3, learningRate: 1e-3);
        Assert.Empty(trained.Selected);
        Assert.True(trained.Mask[0] < 0 && trained.Mask[2] < 0);
        Assert.Equal(0f, trained.Mask[1]);
        Assert.Equal(0f, trained.Mask[3]);
    }
}
