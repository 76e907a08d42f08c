namespace SaeBench.Core.Checkpoints;

/// <summary>Minimum, mean and maximum of a set of values.</summary>
public sealed record SummaryStats(double Min, double Mean, double Max, long Count)
{
    public static SummaryStats? Of(IEnumerable<float> values)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
        long n = 0;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) continue;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            n++;
        }
        return n == 0 ? null : new SummaryStats(min, sum / n, max, n);
    }
}

/// <summary>What a checkpoint is, as <c>saebench inspect</c> reports it.</summary>
public sealed record CheckpointInfo
{
    public required string Path { get; init; }
    public required string Format { get; init; }

    /// <summary>Format flavour where one exists (SAELens <c>v5</c>/<c>v6</c>).</summary>
    public string? FormatVersion { get; init; }

    /// <summary>Canonical architecture id.</summary>
    public required string Architecture { get; init; }

    /// <summary>The architecture name as the checkpoint spells it, when different (e.g. <c>standard</c>, <c>p_anneal</c>).</summary>
    public string? ArchitectureName { get; init; }

    public required int DIn { get; init; }
    public required int DSae { get; init; }

    /// <summary>Storage dtype of the weights (float32, bfloat16, …).</summary>
    public required string Dtype { get; init; }

    public int? K { get; init; }
    public float? ScalarThreshold { get; init; }

    /// <summary>Statistics of the per-latent thresholds, when the SAE has them.</summary>
    public SummaryStats? Threshold { get; init; }

    /// <summary>Statistics of the decoder row norms (null after a quick inspection that had nothing remembered).</summary>
    public SummaryStats? DecoderNorms { get; init; }

    public required bool ApplyBDecToInput { get; init; }
    public required float InputScale { get; init; }
    public string? ModelName { get; init; }
    public string? HookName { get; init; }
    public int[]? GroupSizes { get; init; }

    /// <summary>The files read, configuration first.</summary>
    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>
    /// SHA-256 (hex) of the identity files (configuration then weights, concatenated); null only after a quick
    /// inspection that had nothing remembered.
    /// </summary>
    public string? Sha256 { get; init; }

    /// <summary>Non-finite values per tensor (only when loading them was allowed).</summary>
    public IReadOnlyDictionary<string, long> NonFinite { get; init; } = new Dictionary<string, long>();

    /// <summary>Whether the weights were read now, remembered from an earlier read, or skipped (quick inspection).</summary>
    public InspectScan Scan { get; init; } = InspectScan.Full;

    /// <summary>Bytes of tensor data read plus bytes hashed to produce this description (inspection only).</summary>
    public long? BytesRead { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>A loaded SAE with the description of where it came from.</summary>
public sealed record LoadedCheckpoint(Autoencoders.Sae Sae, CheckpointInfo Info);
