using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Training.Baselines;

/// <summary>
/// The reference "SAEs" a suite can carry besides trained ones: <c>identity</c> (f = x) and <c>pca</c> (the top
/// principal directions of the train split). Neither is trained; both are fitted or built here in closed form.
/// </summary>
public static class BaselineSaes
{
    public const string Pca = "pca";
    public const string Identity = "identity";

    /// <summary>Baseline kinds a suite may list under <c>baselines:</c>.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [Pca, Identity];

    /// <summary>Changes whenever the way a baseline is computed changes (part of the suite content key).</summary>
    public const string CodeVersion = "baseline-1";

    /// <summary>Builds the baseline <paramref name="kind"/> for activations of <paramref name="train"/>;
    /// <paramref name="components"/> (PCA only) defaults to d_model.</summary>
    public static Sae Create(string kind, IActivationSource train, ComputeBackend backend, int? components = null) => kind switch
    {
        Identity => Sae.Identity(train.Shape.DModel),
        Pca => FitPca(train, backend, components ?? train.Shape.DModel),
        _ => throw new ArgumentException($"Unknown baseline '{kind}' (valid: {string.Join(", ", Kinds)})."),
    };

    /// <summary>
    /// PCA on the valid rows of <paramref name="train"/>: the mean, then the covariance of the centred rows
    /// (accumulated in double from per-batch GEMMs), then its top <paramref name="components"/> eigenvectors
    /// (<see cref="SymmetricEigen"/>) as the component rows of <see cref="Sae.Pca"/>.
    /// </summary>
    public static Sae FitPca(IActivationSource train, ComputeBackend backend, int components, int batchRows = 4096)
    {
        int d = train.Shape.DModel;
        if (components < 1 || components > d) throw new ArgumentException($"PCA components must be in 1..{d} (d_model), got {components}.", nameof(components));
        var (mean, cov, rows) = MeanAndCovariance(train, backend, batchRows);
        if (rows < 2) throw new InvalidOperationException("PCA needs at least two activation rows.");
        var (_, vectors) = SymmetricEigen.Decompose(cov);
        var c = new HostMatrix(components, d);
        for (int r = 0; r < components; r++)
        for (int k = 0; k < d; k++) c[r, k] = (float)vectors[r, k];
        return Sae.Pca(c, mean.Select(v => (float)v).ToArray());
    }

    /// <summary>Mean and (biased, 1/n) covariance of the valid rows, and how many rows there were.</summary>
    public static (double[] Mean, double[,] Covariance, long Rows) MeanAndCovariance(IActivationSource source, ComputeBackend backend, int batchRows = 4096)
    {
        int d = source.Shape.DModel;
        var sum = new double[d];
        long n = 0;
        foreach (var batch in source.Batches(batchRows))
            using (batch)
            {
                var valid = batch.Valid;
                for (int r = 0; r < batch.Rows; r++)
                {
                    if (!valid[r]) continue;
                    var row = batch.Activations.Row(r);
                    for (int k = 0; k < d; k++) sum[k] += row[k];
                    n++;
                }
            }
        var mean = new double[d];
        for (int k = 0; k < d; k++) mean[k] = n > 0 ? sum[k] / n : 0;
        var cov = new double[d, d];
        if (n == 0) return (mean, cov, 0);
        var part = new HostMatrix(d, d);
        foreach (var batch in source.Batches(batchRows))
            using (batch)
            {
                var valid = batch.Valid;
                int m = 0;
                for (int r = 0; r < batch.Rows; r++) if (valid[r]) m++;
                if (m == 0) continue;
                using var x = HostMatrix.Rent(m, d, clear: false);
                int o = 0;
                for (int r = 0; r < batch.Rows; r++)
                {
                    if (!valid[r]) continue;
                    var src = batch.Activations.Row(r);
                    var dst = x.Row(o++);
                    for (int k = 0; k < d; k++) dst[k] = (float)(src[k] - mean[k]);
                }
                backend.Gemm.Gemm(x, true, x, false, part);
                for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i, j] += part[i, j];
            }
        for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) cov[i, j] /= n;
        // Symmetrise (the GEMM's two triangles may differ in the last bit).
        for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) cov[i, j] = cov[j, i] = 0.5 * (cov[i, j] + cov[j, i]);
        return (mean, cov, n);
    }
}
