using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Autoencoders;

/// <summary>
/// An intervention on some latents of an SAE's code: each listed latent's value <c>f_j</c> becomes
/// <see cref="Edited"/>(i, f_j), where i is its position in <see cref="Latents"/>. Used by unlearning (clamping),
/// SCR/TPP (ablation) and steering (setting).
/// </summary>
public abstract class LatentEdit
{
    protected LatentEdit(IReadOnlyList<int> latents) => Latents = latents;

    /// <summary>The edited latents; every other latent keeps its value.</summary>
    public IReadOnlyList<int> Latents { get; }

    /// <summary>The new value of latent <c>Latents[i]</c>, given its value before the edit.</summary>
    public abstract float Edited(int i, float before);

    /// <summary>Sets the latents to 0.</summary>
    public static LatentEdit Ablate(IReadOnlyList<int> latents) => new AblateEdit(latents);

    /// <summary>Sets latent <c>latents[i]</c> to <c>values[i]</c> on every row.</summary>
    public static LatentEdit Set(IReadOnlyList<int> latents, IReadOnlyList<float> values) => new SetEdit(latents, values);

    /// <summary>Where latent <c>latents[i]</c> is active (&gt; 0) it becomes <c>values[i]</c>; elsewhere it is kept
    /// (SAEBench's unlearning clamp, with negative values).</summary>
    public static LatentEdit ClampActive(IReadOnlyList<int> latents, IReadOnlyList<float> values) => new ClampActiveEdit(latents, values);

    /// <summary>Applies the edit to a code matrix <c>[rows, d_sae]</c> in place.</summary>
    public void ApplyInPlace(HostMatrix codes)
    {
        for (int r = 0; r < codes.Rows; r++)
        {
            var row = codes.Row(r);
            for (int i = 0; i < Latents.Count; i++) row[Latents[i]] = Edited(i, row[Latents[i]]);
        }
    }

    private sealed class AblateEdit(IReadOnlyList<int> latents) : LatentEdit(latents)
    {
        public override float Edited(int i, float before) => 0f;
    }

    private sealed class SetEdit : LatentEdit
    {
        private readonly IReadOnlyList<float> _values;

        public SetEdit(IReadOnlyList<int> latents, IReadOnlyList<float> values) : base(latents)
        {
            if (values.Count != latents.Count) throw new ArgumentException($"{values.Count} values for {latents.Count} latents.", nameof(values));
            _values = values;
        }

        public override float Edited(int i, float before) => _values[i];
    }

    private sealed class ClampActiveEdit : LatentEdit
    {
        private readonly IReadOnlyList<float> _values;

        public ClampActiveEdit(IReadOnlyList<int> latents, IReadOnlyList<float> values) : base(latents)
        {
            if (values.Count != latents.Count) throw new ArgumentException($"{values.Count} values for {latents.Count} latents.", nameof(values));
            _values = values;
        }

        public override float Edited(int i, float before) => before > 0 ? _values[i] : before;
    }
}

/// <summary>
/// Hook values after a latent edit — the one place interventions are computed. Two ways to splice the edited code back:
/// <list type="bullet">
/// <item><see cref="WithErrorTerm"/>: <c>x' = x + decode(f') − decode(f) = x + (f' − f)·W_dec / input_scale</c> (the decoder is
/// affine): the SAE's error term is kept, so only the edited directions change and rows with no effective edit stay
/// bit-for-bit clean. What SAEBench's unlearning, SCR and TPP do.</item>
/// <item><see cref="Reconstruction"/>: <c>x' = decode(f')</c>: the SAE's output replaces the hook value (error dropped).</item>
/// </list>
/// </summary>
public static class LatentIntervention
{
    /// <summary>Writes <c>x + (f' − f)·W_dec / input_scale</c> into <paramref name="output"/> (<c>[rows, d_in]</c>; may be
    /// a copy of <paramref name="x"/>). <paramref name="codes"/> is the SAE's code of <paramref name="x"/>, left unchanged.</summary>
    public static void WithErrorTerm(Sae sae, HostMatrix x, HostMatrix codes, LatentEdit edit, HostMatrix output)
    {
        if (x.Rows != codes.Rows || output.Rows != x.Rows || output.Cols != x.Cols || codes.Cols != sae.DSae)
            throw new ArgumentException($"Shapes: x {x.Rows}×{x.Cols}, codes {codes.Rows}×{codes.Cols}, output {output.Rows}×{output.Cols} (d_sae {sae.DSae}).");
        if (!ReferenceEquals(output, x)) x.Span.CopyTo(output.Span);
        var wDec = sae.Parameters.WDec;
        float inv = 1f / sae.Parameters.InputScale;
        var latents = edit.Latents;
        for (int r = 0; r < x.Rows; r++)
        {
            var before = codes.Row(r);
            var row = output.Row(r);
            // Only the edited latents change, so the update reads them straight from the code (no copy of it).
            for (int i = 0; i < latents.Count; i++)
            {
                int j = latents[i];
                float after = edit.Edited(i, before[j]);
                if (after != before[j])
                    TensorPrimitives.MultiplyAdd(wDec.Row(j), (after - before[j]) * inv, row, row);
            }
        }
    }

    /// <summary>Writes <c>decode(f')</c> into <paramref name="output"/>; <paramref name="codes"/> is left unchanged.</summary>
    public static void Reconstruction(Sae sae, ComputeBackend backend, HostMatrix codes, LatentEdit edit, HostMatrix output)
    {
        using var edited = codes.Clone();
        edit.ApplyInPlace(edited);
        sae.DecodeDense(backend, edited, output);
    }
}
