namespace SaeBench.Models.Language;

/// <summary>
/// <c>[Batch, Context]</c> token ids, row-major (<c>Ids[b·Context + t]</c>). Every forward-pass tensor of the batch has
/// one row per token in the same order (<c>row = b·Context + t</c>).
/// </summary>
public sealed class TokenBatch
{
    private readonly int[] _ids;

    public TokenBatch(int[] ids, int batch, int context)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (batch <= 0 || context <= 0) throw new ArgumentException($"A token batch needs positive sizes, got {batch}×{context}.");
        if ((long)batch * context != ids.Length)
            throw new ArgumentException($"{ids.Length} token ids do not form a {batch}×{context} batch.", nameof(ids));
        _ids = ids;
        Batch = batch;
        Context = context;
    }

    /// <summary>A batch from 64-bit ids (as safetensors <c>input_ids</c> are stored).</summary>
    public static TokenBatch FromInt64(ReadOnlySpan<long> ids, int batch, int context)
    {
        var converted = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++)
            converted[i] = ids[i] is >= 0 and <= int.MaxValue ? (int)ids[i] : throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"Token id at {i} is out of range.");
        return new TokenBatch(converted, batch, context);
    }

    /// <summary>One sequence as a 1 × T batch.</summary>
    public static TokenBatch Single(int[] ids) => new(ids, 1, ids.Length);

    /// <summary>
    /// Consecutive sequences right-padded into batches of equal length, at most <paramref name="maxTokens"/> tokens each
    /// (one sequence at least), with the model's pad token (else EOS, else 0). Causal attention makes the padding after a
    /// sequence harmless to it; read each sequence at its own length (<c>Lengths</c>). <c>First</c> is the index of the
    /// batch's first sequence. Empty sequences and sequences longer than the model's positions are refused.
    /// </summary>
    public static IEnumerable<(TokenBatch Batch, int First, int[] Lengths)> RightPadded(IReadOnlyList<int[]> sequences, long maxTokens, TransformerConfig config)
    {
        int pad = config.PadTokenId ?? config.EosTokenId ?? 0;
        for (int start = 0; start < sequences.Count;)
        {
            int longest = 0, count = 0;
            while (start + count < sequences.Count)
            {
                int len = sequences[start + count].Length;
                if (len == 0) throw new ArgumentException($"Sequence {start + count} is empty.");
                if (len > config.MaxPositions) throw new ArgumentException($"Sequence {start + count} has {len} tokens; the model has {config.MaxPositions} positions.");
                int l = Math.Max(longest, len);
                if (count > 0 && (long)l * (count + 1) > maxTokens) break;
                longest = l;
                count++;
            }
            var ids = new int[longest * count];
            Array.Fill(ids, pad);
            var lengths = new int[count];
            for (int b = 0; b < count; b++)
            {
                sequences[start + b].CopyTo(ids.AsSpan(b * longest));
                lengths[b] = sequences[start + b].Length;
            }
            yield return (new TokenBatch(ids, count, longest), start, lengths);
            start += count;
        }
    }

    public int Batch { get; }
    public int Context { get; }
    public int Tokens => _ids.Length;

    public ReadOnlySpan<int> Ids => _ids;

    public ReadOnlySpan<int> Row(int b) => _ids.AsSpan(b * Context, Context);

    /// <summary>Throws <see cref="ArgumentException"/> when an id is outside <c>[0, vocab)</c>.</summary>
    public void CheckVocabulary(int vocab)
    {
        for (int i = 0; i < _ids.Length; i++)
        {
            if ((uint)_ids[i] >= (uint)vocab)
                throw new ArgumentException($"Token id {_ids[i]} at [{i / Context}, {i % Context}] is outside the vocabulary [0, {vocab}).");
        }
    }
}
