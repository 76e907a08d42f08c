namespace SaeBench.Models.Language.Data;

/// <summary>
/// Fixed-length token windows (<c>Count × Context</c>, row-major), as packed from a corpus. Immutable: shuffling and
/// splitting return new instances.
/// </summary>
public sealed class TokenWindows
{
    private readonly int[] _ids;

    public TokenWindows(int[] ids, int context)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (context <= 0 || ids.Length % context != 0) throw new ArgumentException($"{ids.Length} ids are not whole windows of {context}.");
        _ids = ids;
        Context = context;
    }

    public int Context { get; }
    public int Count => _ids.Length / Context;
    public long Tokens => _ids.Length;

    public ReadOnlySpan<int> Window(int index) => _ids.AsSpan(checked(index * Context), Context);

    /// <summary>Windows <c>[start, start + count)</c> as a forward-pass batch.</summary>
    public TokenBatch Batch(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Count) throw new ArgumentOutOfRangeException(nameof(start), $"Windows [{start}, {start + count}) outside 0..{Count}.");
        return new TokenBatch(_ids.AsSpan(start * Context, count * Context).ToArray(), count, Context);
    }

    /// <summary>Batches of up to <paramref name="windowsPerBatch"/> windows, in order.</summary>
    public IEnumerable<TokenBatch> Batches(int windowsPerBatch)
    {
        if (windowsPerBatch <= 0) throw new ArgumentOutOfRangeException(nameof(windowsPerBatch));
        for (int s = 0; s < Count; s += windowsPerBatch) yield return Batch(s, Math.Min(windowsPerBatch, Count - s));
    }

    /// <summary>The windows in a seeded order (Fisher–Yates driven by SplitMix64: the same seed gives the same order on every machine).</summary>
    public TokenWindows Shuffle(ulong seed)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        ulong state = seed;
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(SplitMix64(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        var ids = new int[_ids.Length];
        for (int i = 0; i < order.Length; i++) Window(order[i]).CopyTo(ids.AsSpan(i * Context, Context));
        return new TokenWindows(ids, Context);
    }

    /// <summary>
    /// Splits in corpus order: the last <c>round(testFraction · Count)</c> windows are the test set, so no document
    /// straddles the two parts except at the one boundary. Shuffle each part afterwards if wanted.
    /// </summary>
    public (TokenWindows Train, TokenWindows Test) Split(double testFraction)
    {
        if (!(testFraction >= 0 && testFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "Must be in [0, 1].");
        int test = (int)Math.Round(testFraction * Count, MidpointRounding.AwayFromZero);
        int train = Count - test;
        return (new TokenWindows(_ids.AsSpan(0, train * Context).ToArray(), Context),
                new TokenWindows(_ids.AsSpan(train * Context).ToArray(), Context));
    }

    /// <summary>Packs already tokenized documents.</summary>
    public static TokenWindows Pack(IEnumerable<int[]> documents, PackingOptions options, int? maxWindows = null)
    {
        var ids = new List<int>();
        int count = 0;
        foreach (var w in SequencePacker.Pack(documents, options))
        {
            ids.AddRange(w);
            if (++count == maxWindows) break;
        }
        return new TokenWindows(ids.ToArray(), options.Context);
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>A tokenized, packed corpus split into train and test windows.</summary>
/// <param name="Train">Training windows, shuffled with the seed.</param>
/// <param name="Test">Held-out windows (the end of the corpus), shuffled with the seed.</param>
public sealed record TokenDataset(TokenWindows Train, TokenWindows Test)
{
    /// <summary>
    /// Reads <paramref name="source"/>, tokenizes each document without BOS, packs windows by <paramref name="packing"/>,
    /// splits off the last <paramref name="testFraction"/> and shuffles both parts with <paramref name="seed"/>.
    /// Stops reading after <paramref name="maxWindows"/> windows when given.
    /// </summary>
    public static TokenDataset Build(LmTokenizer tokenizer, TextSource source, PackingOptions packing, ulong seed, double testFraction = 0.1, int? maxWindows = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var documents = TextDocuments.Read(source).Select(text => tokenizer.Encode(text, prependBos: false));
        var windows = TokenWindows.Pack(documents, packing, maxWindows);
        if (windows.Count == 0)
            throw new InvalidDataException($"{source.Path}: the corpus gives no complete window of {packing.Context} tokens.");
        var (train, test) = windows.Split(testFraction);
        return new TokenDataset(train.Shuffle(seed), test.Shuffle(seed ^ 0x5DEECE66DUL));
    }
}
