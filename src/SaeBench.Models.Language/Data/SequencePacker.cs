namespace SaeBench.Models.Language.Data;

/// <summary>
/// How documents become fixed-length windows — SAELens's <c>concat_and_batch_sequences</c> as its
/// <c>ActivationsStore</c> calls it for a text dataset: documents are tokenized without BOS and concatenated;
/// every window starts with <see cref="BeginBatchTokenId"/> (BOS when the SAE has <c>prepend_bos</c>); a document that
/// continues a partly filled window is preceded by <see cref="SeparatorTokenId"/> (SAELens's default
/// <c>sequence_separator_token = "bos"</c>); a token already equal to the one to insert is not doubled; the last,
/// partly filled window is dropped.
/// </summary>
/// <param name="Context">Tokens per window.</param>
/// <param name="BeginBatchTokenId">Token at position 0 of every window (null: none).</param>
/// <param name="BeginSequenceTokenId">Token before every document (SAELens <c>begin_sequence_token</c>, null by default).</param>
/// <param name="SeparatorTokenId">Token between concatenated documents (null: none).</param>
/// <param name="DisableConcat">One window per document (its first <see cref="Context"/> tokens); shorter documents are skipped.</param>
public sealed record PackingOptions(int Context, int? BeginBatchTokenId, int? BeginSequenceTokenId = null, int? SeparatorTokenId = null, bool DisableConcat = false)
{
    /// <summary>The SAELens defaults for a model: BOS first when <paramref name="prependBos"/>, BOS between documents
    /// when the tokenizer has one.</summary>
    public static PackingOptions SaeLensDefault(int context, bool prependBos, int? bosTokenId) =>
        new(context, prependBos ? bosTokenId : null, null, bosTokenId);
}

/// <summary>Packs token sequences into windows by the rule of <see cref="PackingOptions"/>.</summary>
public static class SequencePacker
{
    public static IEnumerable<int[]> Pack(IEnumerable<int[]> documents, PackingOptions options)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (options.Context < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Context, "Windows need at least 2 tokens.");
        return options.DisableConcat ? Whole(documents, options) : Concatenated(documents, options);
    }

    private static IEnumerable<int[]> Whole(IEnumerable<int[]> documents, PackingOptions o)
    {
        int? begin = o.BeginSequenceTokenId ?? o.BeginBatchTokenId;
        foreach (var doc in documents)
        {
            var seq = doc;
            if (begin is int b && seq.Length > 0 && seq[0] != b && seq.Length >= o.Context - 1)
                seq = [b, .. seq.AsSpan(0, o.Context - 1)];
            if (seq.Length >= o.Context) yield return seq[..o.Context];
        }
    }

    private static IEnumerable<int[]> Concatenated(IEnumerable<int[]> documents, PackingOptions o)
    {
        var window = new List<int>(o.Context);
        bool open = false;
        foreach (var doc in documents)
        {
            int offset = 0;
            bool startOfDocument = true;
            while (doc.Length - offset > 0)
            {
                var prefix = new List<int>(3);
                int first = doc[offset];
                if (startOfDocument && o.BeginSequenceTokenId is int bs && first != bs)
                {
                    prefix.Insert(0, bs);
                    first = bs;
                }
                if (!open)
                {
                    if (o.BeginBatchTokenId is int bb && first != bb)
                    {
                        prefix.Insert(0, bb);
                    }
                    int needed = Math.Max(o.Context - prefix.Count, 0);
                    window.Clear();
                    window.AddRange(prefix.Take(o.Context));
                    int take = Math.Min(needed, doc.Length - offset);
                    window.AddRange(doc.AsSpan(offset, take));
                    offset += take;
                    open = true;
                }
                else
                {
                    if (o.SeparatorTokenId is int sep && first != sep) prefix.Insert(0, sep);
                    int needed = Math.Max(o.Context - window.Count - prefix.Count, 0);
                    int prefixNeeded = Math.Max(o.Context - window.Count, 0);
                    window.AddRange(prefix.Take(prefixNeeded));
                    int take = Math.Min(needed, doc.Length - offset);
                    window.AddRange(doc.AsSpan(offset, take));
                    offset += take;
                }
                startOfDocument = false;
                if (window.Count == o.Context)
                {
                    yield return window.ToArray();
                    open = false;
                }
            }
        }
    }
}
