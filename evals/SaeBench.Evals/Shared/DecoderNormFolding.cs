using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Evals.Shared;

/// <summary>
/// SAEBench's <c>fold_W_dec_norm</c>, applied to codes: the decoder-norm-folded SAE has unit decoder rows and codes
/// f'_j = f_j·‖W_dec[j]‖ (its encoder column, bias and threshold scaled by the same norm), and the same reconstruction.
/// SAEBench folds every SAELens SAE before every evaluation; evaluators whose numbers depend on the code's per-latent
/// scale (core's L1 and encoder statistics, sparse probing's probes) do the same through this class.
/// <para>Folding is exact only where the selection does not rank latents against each other: a top-k SAE, or a batch
/// selection without a threshold, with non-unit rows would select differently once folded (SAELens refuses to fold
/// top-k SAEs too, and SAEBench then evaluates them unfolded). Those are left unfolded, and the result says so.</para>
/// </summary>
public sealed class DecoderNormFolding
{
    private DecoderNormFolding(float[]? scales, bool folded, string description)
    {
        _scales = scales;
        Folded = folded;
        Description = description;
    }

    private readonly float[]? _scales;

    /// <summary>True when the codes are those of the folded SAE (also when the rows were already unit-norm).</summary>
    public bool Folded { get; }

    /// <summary>What was done and why, for the result file.</summary>
    public string Description { get; }

    /// <summary>Per-latent factors n_j applied to the codes, or null when nothing changes (not folded, or unit rows).</summary>
    public ReadOnlySpan<float> Scales => _scales;

    /// <summary>True when codes change (folded and some decoder row is not unit-norm).</summary>
    public bool ChangesCodes => _scales is not null;

    /// <summary>Tolerance on |‖W_dec[j]‖ − 1| under which rows count as unit-norm (SAEBench's check_decoder_norms: 1e-5).</summary>
    public const float UnitTolerance = 1e-5f;

    /// <summary>How the codes of <paramref name="sae"/> are folded; <paramref name="requested"/> false leaves them as they are.</summary>
    public static DecoderNormFolding For(Sae sae, bool requested)
    {
        ArgumentNullException.ThrowIfNull(sae);
        if (!requested) return new(null, false, "not folded: fold_decoder_norms is false");
        if (sae.Architecture is SaeArchitectures.Identity or SaeArchitectures.Pca)
            return new(null, false, $"not folded: {sae.Architecture} is a baseline, not a dictionary");
        var norms = sae.DecoderNorms();
        for (int j = 0; j < norms.Length; j++) if (!(norms[j] > 0) || !float.IsFinite(norms[j])) norms[j] = 1f;
        if (norms.All(n => Math.Abs(n - 1f) <= UnitTolerance))
            return new(null, true, "folded: decoder rows are already unit-norm (codes unchanged)");
        if (!sae.CanFoldDecoderNorms(out var why))
            return new(null, false, "not folded: " + why);
        return new(norms, true, $"folded: codes multiplied by their decoder-row norms ({norms.Min():G4}..{norms.Max():G4}), as SAEBench's fold_W_dec_norm");
    }

    /// <summary>Multiplies every row of <paramref name="codes"/> (rows × d_sae) by the factors, in place; nothing when <see cref="ChangesCodes"/> is false.</summary>
    public void Apply(HostMatrix codes)
    {
        ArgumentNullException.ThrowIfNull(codes);
        if (_scales is null) return;
        if (codes.Cols != _scales.Length) throw new ArgumentException($"Codes have {codes.Cols} columns; the SAE has {_scales.Length} latents.", nameof(codes));
        for (int r = 0; r < codes.Rows; r++) TensorPrimitives.Multiply(codes.Row(r), _scales, codes.Row(r));
    }

    /// <summary>Multiplies a per-latent vector (e.g. encoder norms or biases) by the factors, in a copy.</summary>
    public double[] Apply(IReadOnlyList<double> perLatent)
    {
        var result = perLatent.ToArray();
        if (_scales is null) return result;
        for (int j = 0; j < result.Length; j++) result[j] *= _scales[j];
        return result;
    }

    /// <summary>The result-file record: <c>decoder_norms_folded</c> and <c>decoder_norm_folding</c>.</summary>
    public void WriteTo(JsonObject unstructured)
    {
        unstructured["decoder_norms_folded"] = Folded;
        unstructured["decoder_norm_folding"] = Description;
    }
}
