using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Core.Evaluation;

/// <summary>
/// One batch of a split with the SAE applied: the model's activations <see cref="X"/> (tokens × d_model, in the model's
/// own units), the code <see cref="F"/> (tokens × d_sae) and the reconstruction <see cref="XHat"/>.
/// Buffers are reused by the stream: valid only until the next batch.
/// </summary>
public sealed record SaeBatch(ActivationBatch Source, HostMatrix F, HostMatrix XHat)
{
    public HostMatrix X => Source.Activations;
    public int Rows => Source.Rows;

    /// <summary>
    /// The stored entries of <see cref="F"/> when the code is sparse (TopK: straight from the selection; others: one
    /// sweep when at most 1/32 is non-zero), so that consumers can read k entries per token instead of d_sae; null
    /// when the code is dense. Same lifetime as the buffers.
    /// </summary>
    public SparseRows? Nonzeros { get; init; }
}

/// <summary>What a job gets to work with: the SAE, the model under study, the backend, the seed and the clock.</summary>
public sealed record EvaluationContext(
    Autoencoders.Sae Sae,
    string CheckpointId,
    IReadOnlyDictionary<string, string> CheckpointTags,
    IModelUnderStudy Model,
    ComputeBackend Backend,
    int Seed,
    int BatchRows,
    TimeProvider Clock)
{
    /// <summary>
    /// Streams a split through the SAE in batches of at most <see cref="BatchRows"/> rows. A pass that reads only the
    /// codes passes <paramref name="decode"/> = false: no reconstruction is computed, and <see cref="SaeBatch.XHat"/>
    /// is then an empty rows × 0 matrix.
    /// </summary>
    public IEnumerable<SaeBatch> Encode(Split split, Range? examples = null, bool decode = true) =>
        SaeBatchStream.Encode(Sae, Backend, Model.Activations(split), BatchRows, examples, decode);
}

/// <summary>Encode/decode of activation batches with buffers reused across batches (memory bounded by the batch size).</summary>
public static class SaeBatchStream
{
    public static IEnumerable<SaeBatch> Encode(Autoencoders.Sae sae, ComputeBackend backend, IActivationSource source, int batchRows, Range? examples = null,
        bool decode = true)
    {
        int maxRows = Math.Max(batchRows, source.Shape.Positions);
        using var f = HostMatrix.Rent(maxRows, sae.DSae, clear: false);
        using var xHat = HostMatrix.Rent(maxRows, decode ? sae.DIn : 0, clear: false);
        var nonzeros = new SparseRows(maxRows, sae.DSae, NonzeroCapacity(sae, maxRows));
        foreach (var batch in source.Batches(maxRows, examples))
        {
            using (batch)
            {
                var fv = f.SliceRows(0, batch.Rows);
                var hv = xHat.SliceRows(0, batch.Rows);
                sae.Encode(backend, batch.Activations, fv, nonzeros);
                if (decode) sae.Decode(backend, fv, hv, nonzeros);
                yield return new SaeBatch(batch, fv, hv) { Nonzeros = nonzeros.IsSet ? nonzeros : null };
            }
        }
    }

    /// <summary>Room for the stored entries of one batch: k per row for TopK, else the sparse-decode density bound.</summary>
    private static int NonzeroCapacity(Autoencoders.Sae sae, int rows)
    {
        long perRow = sae.Architecture == Autoencoders.SaeArchitectures.TopK && sae.Parameters.K is { } k
            ? Math.Min(k, sae.DSae)
            : (long)Math.Ceiling(sae.DSae * Autoencoders.Sae.SparseDecodeMaxDensity);
        return (int)Math.Min(Array.MaxLength, perRow * rows);
    }
}
