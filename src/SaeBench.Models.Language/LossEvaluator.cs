using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>
/// Per-token next-token metrics of one batch. Loss and correctness have <c>Batch × (Context − 1)</c> entries (position t
/// predicts token t + 1); KL and top-1 agreement with the reference have <c>Batch × Context</c> (every position).
/// </summary>
public sealed record TokenMetrics(int Batch, int Context, float[] Loss, bool[] Correct, float[]? Kl, bool[]? SameTop1)
{
    /// <summary>Mean cross-entropy (natural log) over all predicted tokens.</summary>
    public double MeanLoss => Loss.Length == 0 ? double.NaN : Loss.Average(v => (double)v);

    /// <summary>Fraction of positions whose arg-max logit is the next token.</summary>
    public double Accuracy => Correct.Length == 0 ? double.NaN : Correct.Count(c => c) / (double)Correct.Length;

    /// <summary>Mean KL(reference ‖ this) per position, when a reference was given.</summary>
    public double? MeanKl => Kl is null || Kl.Length == 0 ? null : Kl.Average(v => (double)v);

    /// <summary>Fraction of positions whose arg-max equals the reference's, when a reference was given.</summary>
    public double? Top1Agreement => SameTop1 is null || SameTop1.Length == 0 ? null : SameTop1.Count(c => c) / (double)SameTop1.Length;
}

/// <summary>
/// Next-token loss, accuracy and KL computed from final hidden states without materialising the whole
/// <c>tokens × vocabulary</c> logits: at most <see cref="ChunkRows"/> rows go through the unembedding at a time (two
/// chunks when a reference is compared), each reduced to per-token numbers before the next.
/// <c>loss[b, t] = logsumexp(logits[b, t]) − logits[b, t, ids[b, t + 1]]</c>.
/// </summary>
public sealed class LossEvaluator
{
    private readonly LanguageModel _model;
    private long _peak;

    public LossEvaluator(LanguageModel model, int chunkRows = 128)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (chunkRows <= 0) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "Chunk rows must be positive.");
        _model = model;
        ChunkRows = chunkRows;
    }

    public int ChunkRows { get; }

    /// <summary>The most logits elements (rows × vocabulary) held at once by this evaluator so far.</summary>
    public long PeakLogitElements => Interlocked.Read(ref _peak);

    /// <summary>Per-token loss <c>[Batch, Context − 1]</c>, flattened.</summary>
    public float[] TokenLosses(HostMatrix hidden, TokenBatch tokens) => Evaluate(hidden, tokens).Loss;

    /// <summary>
    /// Loss and accuracy of <paramref name="hidden"/> (the final hidden state of <paramref name="tokens"/>), and, when
    /// <paramref name="referenceHidden"/> is given (e.g. the clean run when <paramref name="hidden"/> has an SAE spliced in),
    /// KL(reference ‖ hidden) and top-1 agreement per position.
    /// </summary>
    public TokenMetrics Evaluate(HostMatrix hidden, TokenBatch tokens, HostMatrix? referenceHidden = null)
    {
        int rows = tokens.Tokens, t = tokens.Context, vocab = _model.Config.Vocab;
        if (hidden.Rows != rows || hidden.Cols != _model.Config.DModel)
            throw new ArgumentException($"Hidden state is {hidden.Rows}×{hidden.Cols}; {rows} tokens × d_model {_model.Config.DModel} expected.");
        if (referenceHidden is not null && (referenceHidden.Rows != rows || referenceHidden.Cols != hidden.Cols))
            throw new ArgumentException($"Reference hidden state is {referenceHidden.Rows}×{referenceHidden.Cols}, not {rows}×{hidden.Cols}.");
        tokens.CheckVocabulary(vocab);
        var targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = r % t == t - 1 ? -1 : tokens.Ids[r + 1];

        var loss = new float[tokens.Batch * (t - 1)];
        var correct = new bool[loss.Length];
        var kl = referenceHidden is null ? null : new float[rows];
        var same = referenceHidden is null ? null : new bool[rows];
        int chunk = Math.Min(ChunkRows, rows);
        using var logits = HostMatrix.Rent(chunk, vocab, clear: false);
        using var reference = referenceHidden is null ? null : HostMatrix.Rent(chunk, vocab, clear: false);
        Observe((long)chunk * vocab * (reference is null ? 1 : 2));
        var lse = new double[chunk];
        var targetLogit = new double[chunk];
        var argMax = new int[chunk];
        var refLse = new double[chunk];
        var refTarget = new double[chunk];
        var refArgMax = new int[chunk];
        var klChunk = new double[chunk];
        for (int start = 0; start < rows; start += chunk)
        {
            int n = Math.Min(chunk, rows - start);
            var l = logits.SliceRows(0, n);
            _model.LogitsInto(hidden.SliceRows(start, n), l);
            _model.Ops.RowStatistics(l, targets.AsSpan(start, n), lse, targetLogit, argMax);
            if (reference is not null)
            {
                var rl = reference.SliceRows(0, n);
                _model.LogitsInto(referenceHidden!.SliceRows(start, n), rl);
                _model.Ops.RowStatistics(rl, targets.AsSpan(start, n), refLse, refTarget, refArgMax);
                _model.Ops.RowKl(rl, refLse, l, lse, klChunk);
            }
            for (int i = 0; i < n; i++)
            {
                int r = start + i;
                if (kl is not null)
                {
                    kl[r] = (float)klChunk[i];
                    same![r] = argMax[i] == refArgMax[i];
                }
                if (targets[r] < 0) continue;
                int k = r / t * (t - 1) + r % t;
                loss[k] = (float)(lse[i] - targetLogit[i]);
                correct[k] = argMax[i] == targets[r];
            }
        }
        return new TokenMetrics(tokens.Batch, t, loss, correct, kl, same);
    }

    private void Observe(long elements)
    {
        long current;
        while (elements > (current = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, elements, current) != current)
        {
        }
    }
}
