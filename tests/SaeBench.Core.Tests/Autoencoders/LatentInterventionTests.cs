using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Autoencoders;

public class LatentInterventionTests
{
    [Fact]
    public void Clamping_only_touches_active_selected_latents()
    {
        using var codes = HostMatrix.FromSpan([1f, 0f, 2f, 0f, 3f, -1f], 2, 3);
        LatentEdit.ClampActive([0, 1], [-5f, -5f]).ApplyInPlace(codes);
        Assert.Equal(new[] { -5f, 0f, 2f, 0f, -5f, -1f }, codes.Span.ToArray());
    }

    [Fact]
    public void Ablate_and_set_edit_every_row()
    {
        using var codes = HostMatrix.FromSpan([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        LatentEdit.Ablate([1]).ApplyInPlace(codes);
        LatentEdit.Set([2], [9f]).ApplyInPlace(codes);
        Assert.Equal(new[] { 1f, 0f, 9f, 4f, 0f, 9f }, codes.Span.ToArray());
    }

    /// <summary>With the error term kept, the edited hook value equals x − decode(f) + decode(f'), computed the long way.</summary>
    [Fact]
    public void With_error_term_equals_x_plus_the_change_of_the_reconstruction()
    {
        var sae = Some.Sae("relu", dIn: 6, dSae: 10, seed: 3);
        sae.Parameters.InputScale = 0.5f;
        var backend = CpuBackend.Create();
        using var x = Some.Matrix(4, 6, seed: 9);
        using var f = new HostMatrix(4, 10);
        sae.Encode(backend, x, f);
        var active = Enumerable.Range(0, 10).Where(j => f[0, j] > 0).Take(2).ToArray();
        Assert.NotEmpty(active);
        var edit = LatentEdit.Set(active, active.Select(_ => 2.5f).ToArray());

        using var actual = new HostMatrix(4, 6);
        LatentIntervention.WithErrorTerm(sae, x, f, edit, actual);

        using var before = new HostMatrix(4, 6);
        sae.DecodeDense(backend, f, before);
        using var after = new HostMatrix(4, 6);
        LatentIntervention.Reconstruction(sae, backend, f, edit, after);
        for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++)
            Assert.Equal(x[r, c] - before[r, c] + after[r, c], actual[r, c], 4);
        Assert.NotEqual(x[0, 0] + x[0, 1], actual[0, 0] + actual[0, 1]); // the edit did something
    }

    [Fact]
    public void A_row_without_an_effective_edit_stays_bit_for_bit_clean()
    {
        var sae = Some.Sae("relu", dIn: 6, dSae: 10, seed: 4);
        using var x = Some.Matrix(3, 6, seed: 2);
        using var f = new HostMatrix(3, 10); // all latents inactive: clamping active ones changes nothing
        using var output = new HostMatrix(3, 6);
        LatentIntervention.WithErrorTerm(sae, x, f, LatentEdit.ClampActive([0, 1, 2], [-1f, -1f, -1f]), output);
        Assert.Equal(x.Span.ToArray(), output.Span.ToArray());
    }
}
