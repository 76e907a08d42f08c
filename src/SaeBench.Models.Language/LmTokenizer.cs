using Tokenizers.DotNet;

namespace SaeBench.Models.Language;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (through Tokenizers.DotNet, the Rust tokenizers library) with the BOS rule
/// TransformerLens applies per family: GPT-2 gets <c>&lt;|endoftext|&gt;</c> prepended (its tokenizer adds nothing);
/// Gemma-2 and Llama get the BOS their post-processor adds; GPT-NeoX/Pythia and Qwen2 get none. An SAE's
/// <c>prepend_bos</c> overrides the family default either way. Thread-safe.
/// </summary>
public sealed class LmTokenizer : IDisposable
{
    private readonly Tokenizer _tokenizer;
    private readonly object _gate = new();
    private readonly int[] _addedPrefix;

    private LmTokenizer(string path, Tokenizer tokenizer, int? bosTokenId, bool defaultPrependBos)
    {
        Path = path;
        _tokenizer = tokenizer;
        _addedPrefix = tokenizer.Encode("").Select(u => (int)u).ToArray();
        BosTokenId = bosTokenId ?? (_addedPrefix.Length == 1 ? _addedPrefix[0] : null);
        DefaultPrependBos = defaultPrependBos && BosTokenId is not null;
    }

    public string Path { get; }

    /// <summary>The BOS id: the config's <c>bos_token_id</c>, else the single token the post-processor adds.</summary>
    public int? BosTokenId { get; }

    /// <summary>Whether <see cref="Encode(string, bool?)"/> starts with BOS when not told otherwise.</summary>
    public bool DefaultPrependBos { get; }

    /// <summary>True when the tokenizer's own post-processor adds BOS (Gemma, Llama).</summary>
    public bool PostProcessorAddsBos => BosTokenId is int b && _addedPrefix.Length > 0 && _addedPrefix[0] == b;

    /// <summary>
    /// Opens <c>tokenizer.json</c> from a snapshot folder (or the file itself) with the family's BOS rule from
    /// <paramref name="config"/> (no BOS rule when null).
    /// </summary>
    public static LmTokenizer Load(string folderOrFile, TransformerConfig? config = null)
    {
        string path = Directory.Exists(folderOrFile) ? System.IO.Path.Combine(folderOrFile, "tokenizer.json") : folderOrFile;
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{path}: tokenizer.json not found; the runner needs the fast-tokenizer file (save it with tokenizer.save_pretrained, or copy it from the Hub snapshot).", path);
        Tokenizer tokenizer;
        try
        {
            tokenizer = new Tokenizer(vocabPath: path);
        }
        catch (Exception e) when (e is TokenizerException or DllNotFoundException or BadImageFormatException)
        {
            throw new InvalidDataException($"{path}: cannot load the tokenizer ({e.Message}).", e);
        }
        return new LmTokenizer(path, tokenizer, config?.BosTokenId, config?.DefaultPrependBos ?? false);
    }

    /// <summary>The tokenizer's own encoding, with whatever special tokens its post-processor adds.</summary>
    public int[] EncodeRaw(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        uint[] ids;
        lock (_gate) ids = _tokenizer.Encode(text);
        var result = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) result[i] = checked((int)ids[i]);
        return result;
    }

    /// <summary>
    /// Token ids of <paramref name="text"/>, starting with BOS when <paramref name="prependBos"/> (default: the family rule).
    /// A BOS the post-processor adds is removed when <paramref name="prependBos"/> is false; one is prepended when it is
    /// true and the tokenizer did not add it.
    /// </summary>
    public int[] Encode(string text, bool? prependBos = null)
    {
        bool bos = prependBos ?? DefaultPrependBos;
        var ids = EncodeRaw(text);
        bool hasBos = PostProcessorAddsBos && ids.Length > 0 && ids[0] == BosTokenId;
        if (bos && !hasBos)
        {
            int b = BosTokenId ?? throw new InvalidOperationException($"{Path}: prepend_bos was asked for, but the model has no bos_token_id and the tokenizer adds none.");
            return [b, .. ids];
        }
        return !bos && hasBos ? ids[1..] : ids;
    }

    /// <summary>Text of <paramref name="ids"/> (special tokens dropped, as the tokenizer decodes).</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var u = new uint[ids.Length];
        for (int i = 0; i < ids.Length; i++) u[i] = ids[i] >= 0 ? (uint)ids[i] : throw new ArgumentOutOfRangeException(nameof(ids), ids[i], "Token ids are non-negative.");
        lock (_gate) return _tokenizer.Decode(u);
    }

    public void Dispose()
    {
        lock (_gate) _tokenizer.Dispose();
    }
}
