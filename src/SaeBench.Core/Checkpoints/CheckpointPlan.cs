using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints;

/// <summary>Where a parameter lives in the weight file; <c>Transposed</c> when stored as the transpose of our orientation.</summary>
public sealed record TensorBinding(string Name, bool Transposed = false);

/// <summary>
/// What a format reader found: the architecture, the configuration, and where each parameter is in the weight file.
/// Only the header and tiny scalar tensors have been read; <see cref="CheckpointAssembler"/> validates it and reads the rest.
/// </summary>
public sealed class CheckpointPlan : IDisposable
{
    public required CheckpointLayout Layout { get; init; }
    public required ITensorSource Source { get; init; }
    public required string Architecture { get; init; }
    public required SaeConfig Config { get; init; }
    public string? FormatVersion { get; init; }

    /// <summary>Widths the configuration declares (checked against the tensors); null when it does not say.</summary>
    public int? DIn { get; init; }
    public int? DSae { get; init; }

    /// <summary>The configuration file and field that declared d_in/d_sae, for error messages.</summary>
    public string WidthSource { get; init; } = "cfg";

    public required TensorBinding WEnc { get; init; }
    public required TensorBinding WDec { get; init; }
    public TensorBinding? BEnc { get; init; }
    public required TensorBinding BDec { get; init; }
    public TensorBinding? Threshold { get; init; }
    public TensorBinding? BGate { get; init; }
    public TensorBinding? RMag { get; init; }
    public TensorBinding? BMag { get; init; }

    public int? K { get; set; }
    public float? ScalarThreshold { get; set; }
    public bool ApplyBDecToInput { get; init; }
    public float InputScale { get; init; } = 1f;
    public int[]? GroupSizes { get; set; }
    public List<string> Warnings { get; } = [];

    public IEnumerable<(string Role, TensorBinding Binding)> Bindings()
    {
        yield return ("W_enc", WEnc);
        yield return ("W_dec", WDec);
        if (BEnc is not null) yield return ("b_enc", BEnc);
        yield return ("b_dec", BDec);
        if (Threshold is not null) yield return ("threshold", Threshold);
        if (BGate is not null) yield return ("b_gate", BGate);
        if (RMag is not null) yield return ("r_mag", RMag);
        if (BMag is not null) yield return ("b_mag", BMag);
    }

    public void Dispose() => (Source as IDisposable)?.Dispose();
}
