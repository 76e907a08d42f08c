using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Autoencoders;

/// <summary>
/// The weights of an SAE in this project's orientation: <c>W_enc [d_in, F]</c>, <c>W_dec [F, d_in]</c> (row j of
/// <c>W_dec</c> is latent j's direction). Mutable so that a trainer can update it in place.
/// </summary>
public sealed class SaeParameters
{
    /// <summary>Encoder, d_in × F.</summary>
    public required HostMatrix WEnc { get; set; }

    /// <summary>Encoder bias, length F (zeros for gated, which has none).</summary>
    public required float[] BEnc { get; set; }

    /// <summary>Decoder, F × d_in.</summary>
    public required HostMatrix WDec { get; set; }

    /// <summary>Decoder bias, length d_in.</summary>
    public required float[] BDec { get; set; }

    /// <summary>Per-latent threshold θ_j (jumprelu, feature_choice; batch architectures after folding).</summary>
    public float[]? Threshold { get; set; }

    /// <summary>One threshold for all latents (batchtopk, matryoshka_batchtopk, mutual_choice at inference).</summary>
    public float? ScalarThreshold { get; set; }

    /// <summary>Gated: gate bias, magnitude log-scale and magnitude bias (length F each).</summary>
    public float[]? BGate { get; set; }
    public float[]? RMag { get; set; }
    public float[]? BMag { get; set; }

    /// <summary>Latents kept per token (topk) or on average per token in a batch (batch architectures without θ).</summary>
    public int? K { get; set; }

    /// <summary>Subtract <c>b_dec</c> from the input before encoding.</summary>
    public bool ApplyBDecToInput { get; set; }

    /// <summary>x is multiplied by this before encoding and x̂ divided by it after decoding (1 = no normalisation).</summary>
    public float InputScale { get; set; } = 1f;

    /// <summary>Matryoshka nested group sizes (summing to F).</summary>
    public int[]? GroupSizes { get; set; }

    public int DIn => WEnc.Rows;
    public int DSae => WEnc.Cols;

    /// <summary>A deep copy.</summary>
    public SaeParameters Clone() => new()
    {
        WEnc = WEnc.Clone(),
        BEnc = (float[])BEnc.Clone(),
        WDec = WDec.Clone(),
        BDec = (float[])BDec.Clone(),
        Threshold = (float[]?)Threshold?.Clone(),
        ScalarThreshold = ScalarThreshold,
        BGate = (float[]?)BGate?.Clone(),
        RMag = (float[]?)RMag?.Clone(),
        BMag = (float[]?)BMag?.Clone(),
        K = K,
        ApplyBDecToInput = ApplyBDecToInput,
        InputScale = InputScale,
        GroupSizes = (int[]?)GroupSizes?.Clone(),
    };
}
