using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Core.Results;
using SaeBench.Models.Language.Data;

namespace SaeBench.Models.Language;

/// <summary>
/// What a language model under study is built from (the <c>hf:</c> spec and its options).
/// </summary>
/// <param name="Path">Snapshot folder or Hugging Face cache repo folder (<c>models--org--name</c>).</param>
/// <param name="Hook">TransformerLens hook name; null = <c>blocks.{layers/2}.hook_resid_post</c>.</param>
/// <param name="Processing">TransformerLens weight processing (default none, as SAEBench and SAELens load models).</param>
/// <param name="Context">Tokens per window (SAEBench's <c>context_size</c>, 128).</param>
/// <param name="Corpus">The token corpus the activations come from; null = none (only the model's text side works).</param>
/// <param name="MaxWindows">Windows read from the corpus (train + test).</param>
/// <param name="TestFraction">Fraction of windows (the corpus's last ones, before shuffling) held out as the test split.</param>
/// <param name="PrependBos">BOS at the start of every window; null = the family's rule (TransformerLens's default_prepend_bos).</param>
/// <param name="Seed">Seed of the window shuffle.</param>
/// <param name="BatchWindows">Windows per forward pass (memory ∝ BatchWindows × Context × d_model).</param>
/// <param name="DataDirectory">Where relative paths of labelled datasets start (the run configuration's folder).</param>
public sealed record LanguageModelSpec(
    string Path,
    string? Hook = null,
    WeightProcessing? Processing = null,
    int Context = 128,
    TextSource? Corpus = null,
    int MaxWindows = 1024,
    double TestFraction = 0.25,
    bool? PrependBos = null,
    ulong Seed = 0,
    int BatchWindows = 16,
    string? DataDirectory = null);

/// <summary>
/// A Hugging Face language model as a model under study: activations at one TransformerLens hook over packed windows of
/// a local text corpus (every position of a window is a row; BOS, EOS and padding rows are marked invalid, as SAEBench
/// excludes special tokens), next-token CE/KL/accuracy with a replacement spliced in at the hook
/// (<see cref="IDownstreamLoss"/>, logits reduced chunk by chunk), token text for contexts (<see cref="IExampleText"/>)
/// and the model's text side for evaluators with their own prompts (<see cref="ITextModel"/>).
/// </summary>
public sealed class LanguageModelUnderStudy : IModelUnderStudy, IDownstreamLoss, IExampleText, ITextModel, ICheckpointCompatibility, ILabelledTextSource, IDisposable
{
    public const string Prefix = "hf:";

    private readonly LanguageModelSpec _spec;
    private readonly HookPoint _hook;
    private readonly LmTokenizer _tokenizer;
    private readonly Lazy<TokenDataset> _data;
    private readonly HashSet<int> _special;
    private readonly bool _prependBos;
    private readonly LanguageModelInterventions _interventions;

    private LanguageModelUnderStudy(LanguageModelSpec spec, LanguageModel model, LmTokenizer tokenizer, string contentHash)
    {
        _spec = spec;
        Model = model;
        _tokenizer = tokenizer;
        _hook = spec.Hook is null ? new HookPoint(model.Config.Layers / 2, HookKind.ResidPost) : model.Hooks.Resolve(spec.Hook);
        _prependBos = spec.PrependBos ?? tokenizer.DefaultPrependBos;
        _special = new[] { model.Config.BosTokenId, model.Config.EosTokenId, tokenizer.BosTokenId, model.Config.PadTokenId }
            .OfType<int>().ToHashSet();
        if (spec.Context < 2) throw new ArgumentException($"context: {spec.Context} must be at least 2 tokens.");
        if (spec.Context > model.Config.MaxPositions)
            throw new ArgumentException($"context: {spec.Context} tokens exceed the model's {model.Config.MaxPositions} positions (config.json max_position_embeddings / n_positions).");
        _data = new Lazy<TokenDataset>(() => TokenDataset.Build(_tokenizer,
            spec.Corpus ?? throw new InvalidOperationException($"{Id}: no corpus: give dataset=PATH (a .txt, .jsonl or .parquet file) to study activations."),
            PackingOptions.SaeLensDefault(spec.Context, _prependBos, _tokenizer.BosTokenId), spec.Seed, spec.TestFraction, spec.MaxWindows));
        _interventions = new LanguageModelInterventions(model, _hook, spec.BatchWindows * spec.Context);
        Tokenizer = new TokenizerView(tokenizer, model.Config.Vocab, _special);
        Info = new ModelInfo(Id, _hook.Name, model.Hooks.Width(_hook), spec.Context, contentHash,
            $"{model.Config.ModelType} language model ({model.Config.Layers} layers, d_model {model.Config.DModel}, vocabulary {model.Config.Vocab}), " +
            $"processing {model.Processing}, windows of {spec.Context} tokens" + (spec.Corpus is { } c ? $" from {System.IO.Path.GetFileName(c.Path)}" : ""));
    }

    /// <summary>Loads the model and tokenizer (the corpus is read on first use of the activations).</summary>
    public static LanguageModelUnderStudy Open(LanguageModelSpec spec)
    {
        var model = LanguageModel.Load(spec.Path, new LanguageModelOptions(spec.Processing ?? WeightProcessing.None));
        var tokenizer = LmTokenizer.Load(HfSnapshot.ResolveDirectory(spec.Path), model.Config);
        return new LanguageModelUnderStudy(spec, model, tokenizer, ContentHash(spec, model));
    }

    public LanguageModel Model { get; }

    public string Id => Prefix + System.IO.Path.GetFileName(HfSnapshot.ResolveDirectory(_spec.Path).TrimEnd('/', '\\'));

    public ModelInfo Info { get; }

    public ITextTokenizer Tokenizer { get; }

    public int MaxSequenceLength => Model.Config.MaxPositions;

    public HookPoint Hook => _hook;

    /// <summary>Whether each window starts with BOS.</summary>
    public bool PrependsBos => _prependBos;

    /// <summary>True for BOS, EOS and padding ids: positions excluded from metrics, as SAEBench excludes special tokens.</summary>
    public bool IsSpecial(int id) => _special.Contains(id);

    public IActivationSource Activations(Split split) => new Source(this, split);

    /// <summary>Itself, or its interventions (<see cref="ITextInterventions"/>, and <see cref="IHookGradient"/> at a residual-stream
    /// hook: the loss gradient starts there).</summary>
    public T? Capability<T>() where T : class =>
        this as T ?? (typeof(T) == typeof(IHookGradient) && !_hook.IsResidual ? null : _interventions as T);

    /// <summary>The packed windows of a split.</summary>
    public TokenWindows Windows(Split split) => split == Split.Train ? _data.Value.Train : _data.Value.Test;

    public void Dispose() => _tokenizer.Dispose();

    /// <summary>The model's name where it is known for sure: the repo id of a Hugging Face cache folder; else null.</summary>
    public string? ModelName
    {
        get
        {
            var dir = new DirectoryInfo(HfSnapshot.ResolveDirectory(_spec.Path));
            var repo = dir.Parent?.Name == "snapshots" ? dir.Parent.Parent?.Name : null;
            return repo is not null && repo.StartsWith("models--", StringComparison.Ordinal) ? repo["models--".Length..].Replace("--", "/") : null;
        }
    }

    /// <summary>Reads a labelled text file; a relative path is taken from <see cref="LanguageModelSpec.DataDirectory"/>.</summary>
    public LabelledTexts Read(LabelledTextRequest request) =>
        LabelledTextFiles.Read(request with { Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(_spec.DataDirectory ?? Directory.GetCurrentDirectory(), request.Path)) });

    public IReadOnlyList<System.Text.Json.Nodes.JsonObject> Records(string path) =>
        LabelledTextFiles.Records(System.IO.Path.GetFullPath(System.IO.Path.Combine(_spec.DataDirectory ?? Directory.GetCurrentDirectory(), path)));

    public System.Text.Json.Nodes.JsonNode? JsonFile(string path) =>
        LabelledTextFiles.JsonFile(System.IO.Path.GetFullPath(System.IO.Path.Combine(_spec.DataDirectory ?? Directory.GetCurrentDirectory(), path)));

    public IReadOnlyList<string> Problems(Core.Autoencoders.SaeConfig config) => CheckpointCompatibility.Problems(config, _hook, Model, ModelName);

    public IReadOnlyList<string> Tokens(Split split, int example)
    {
        var ids = Windows(split).Window(example);
        var result = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) result[i] = Tokenizer.TokenText(ids[i]) ?? _tokenizer.Decode([ids[i]]);
        return result;
    }

    /// <summary>
    /// Clean run and one run per replacement spliced in at the hook, for the batch's windows; targets are the next tokens
    /// (the last position of a window has none). Logits never exist beyond one chunk of rows.
    /// </summary>
    public DownstreamComparison Compare(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements)
    {
        var tokens = TokensOf(batch);
        int rows = tokens.Tokens, t = tokens.Context;
        var result = LogitStatistics.Allocate(rows, replacements.Count);
        var evaluator = new LossEvaluator(Model);
        using var clean = Model.Forward(tokens);
        var cleanHidden = clean.RequireHidden();
        Fill(result.Clean, evaluator.Evaluate(cleanHidden, tokens), t, kl: null);
        for (int k = 0; k < replacements.Count; k++)
        {
            if (replacements[k].Rows != rows) throw new ArgumentException($"A replacement has {replacements[k].Rows} rows for a batch of {rows}.", nameof(replacements));
            using var run = Model.ForwardFromHook(_hook, replacements[k], tokens);
            var metrics = evaluator.Evaluate(run.RequireHidden(), tokens, cleanHidden);
            Fill(result.Replaced[k], metrics, t, metrics.Kl);
        }
        return result;
    }

    private static void Fill(RowOutcomes outcomes, TokenMetrics m, int t, float[]? kl)
    {
        for (int b = 0; b < m.Batch; b++)
        for (int p = 0; p < t; p++)
        {
            int row = b * t + p;
            bool has = p < t - 1;
            outcomes.HasTarget[row] = has;
            outcomes.CrossEntropy[row] = has ? m.Loss[b * (t - 1) + p] : 0;
            outcomes.Correct[row] = has && m.Correct[b * (t - 1) + p];
            outcomes.KlFromClean[row] = kl is null ? 0 : Math.Max(0, kl[row]);
        }
    }

    private TokenBatch TokensOf(ActivationBatch batch)
    {
        if (batch.Positions != _spec.Context) throw new ArgumentException($"A batch of {batch.Positions} positions for windows of {_spec.Context}.");
        var windows = Windows(batch.Split);
        var ids = new int[batch.Rows];
        for (int e = 0; e < batch.ExampleCount; e++)
            windows.Window(batch.ExampleIndex[e * batch.Positions]).CopyTo(ids.AsSpan(e * batch.Positions, batch.Positions));
        return new TokenBatch(ids, batch.ExampleCount, batch.Positions);
    }

    public HostMatrix HookActivations(IReadOnlyList<int[]> sequences)
    {
        int total = sequences.Sum(s => s.Length);
        var result = new HostMatrix(total, Info.DModel);
        int row = 0;
        foreach (var (batch, lengths) in PaddedBatches(sequences))
        {
            using var acts = Model.RunToHook(batch, _hook.Name);
            for (int b = 0; b < lengths.Length; b++)
            {
                acts.SliceRows(b * batch.Context, lengths[b]).Span.CopyTo(result.SliceRows(row, lengths[b]).Span);
                row += lengths[b];
            }
        }
        return result;
    }

    public double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null)
    {
        var result = new double[sequences.Count][];
        int index = 0;
        foreach (var (batch, lengths) in PaddedBatches(sequences))
        {
            var special = new bool[batch.Tokens];
            for (int i = 0; i < special.Length; i++) special[i] = _special.Contains(batch.Ids[i]);
            var options = edit is null ? ForwardOptions.Plain : new ForwardOptions([_hook], new EditHandler(edit, special));
            using var run = Model.Forward(batch, options);
            var hidden = run.RequireHidden();
            using var last = new HostMatrix(lengths.Length, hidden.Cols);
            for (int b = 0; b < lengths.Length; b++) hidden.Row(b * batch.Context + lengths[b] - 1).CopyTo(last.Row(b));
            using var logits = new HostMatrix(lengths.Length, Model.Config.Vocab);
            Model.LogitsInto(last, logits);
            var logp = new double[Model.Config.Vocab];
            for (int b = 0; b < lengths.Length; b++)
            {
                LogitStatistics.LogSoftmax(logits.Row(b), logp);
                result[index++] = candidates.Select(c => logp[c]).ToArray();
            }
        }
        return result;
    }

    /// <summary>Sequences right-padded into batches of equal length (causal attention: padding after a sequence does not
    /// change it), at most <see cref="LanguageModelSpec.BatchWindows"/> × context tokens each.</summary>
    private IEnumerable<(TokenBatch Batch, int[] Lengths)> PaddedBatches(IReadOnlyList<int[]> sequences) =>
        TokenBatch.RightPadded(sequences, (long)_spec.BatchWindows * _spec.Context, Model.Config).Select(p => (p.Batch, p.Lengths));

    private sealed class EditHandler(IHookEdit edit, bool[] special) : IHookHandler
    {
        public void OnHook(HookPoint hook, HostMatrix value) => edit.Edit(value, special);
    }

    /// <summary>Content hash: config and tokenizer bytes, a fingerprint of every weight file (name, size, SHA-256 of its first
    /// and last MiB — hashing gigabytes on every run would cost minutes), processing, hook, windows and corpus bytes.</summary>
    private static string ContentHash(LanguageModelSpec spec, LanguageModel model)
    {
        var dir = HfSnapshot.ResolveDirectory(spec.Path);
        var parts = new List<string> { "lm-under-study-1", model.Config.ModelType, model.Processing.ToString(), spec.Hook ?? "default", spec.Context.ToString(System.Globalization.CultureInfo.InvariantCulture),
            spec.MaxWindows.ToString(System.Globalization.CultureInfo.InvariantCulture), spec.TestFraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            spec.PrependBos?.ToString() ?? "family", spec.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        foreach (var file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(file);
            if (name.EndsWith(".json", StringComparison.Ordinal)) parts.Add(name + ":" + Hashing.Sha256(File.ReadAllBytes(file)));
            else if (name.EndsWith(".safetensors", StringComparison.Ordinal)) parts.Add(name + ":" + Fingerprint(file));
        }
        if (spec.Corpus is { } corpus) parts.Add("corpus:" + corpus.Field + ":" + Fingerprint(corpus.Path));
        return Hashing.Sha256(string.Join('\n', parts));
    }

    private static string Fingerprint(string path)
    {
        using var stream = File.OpenRead(path); // follows symlinks (Hub caches link snapshots to blobs)
        long length = stream.Length;
        const int Edge = 1 << 20;
        var head = new byte[(int)Math.Min(Edge, length)];
        stream.ReadExactly(head);
        var tail = new byte[(int)Math.Min(Edge, Math.Max(0, length - head.Length))];
        stream.Seek(length - tail.Length, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        return length.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Hashing.Sha256(head) + ":" + Hashing.Sha256(tail);
    }

    private sealed class TokenizerView(LmTokenizer tokenizer, int vocabulary, HashSet<int> special) : ITextTokenizer
    {
        public int VocabularySize => vocabulary;

        public int[] Encode(string text, bool? prependBos = null) => tokenizer.Encode(text, prependBos);

        public bool IsSpecial(int id) => special.Contains(id);

        public string? TokenText(int id)
        {
            if (special.Contains(id) || id < 0 || id >= vocabulary) return null;
            var text = tokenizer.Decode([id]);
            return text.Length == 0 || text.Contains('\uFFFD') ? null : text;
        }
    }

    private sealed class Source(LanguageModelUnderStudy owner, Split split) : IActivationSource
    {
        public ActivationShape Shape => new(owner.Windows(split).Count, owner._spec.Context, owner.Info.DModel);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
        {
            var windows = owner.Windows(split);
            int t = owner._spec.Context;
            var (start, count) = (examples ?? Range.All).GetOffsetAndLength(windows.Count);
            int per = Math.Max(1, Math.Min(maxRows / t, owner._spec.BatchWindows));
            for (int first = start; first < start + count; first += per)
            {
                int n = Math.Min(per, start + count - first);
                var tokens = windows.Batch(first, n);
                var acts = owner.Model.RunToHook(tokens, owner._hook.Name);
                var valid = new bool[tokens.Tokens];
                for (int i = 0; i < valid.Length; i++) valid[i] = !owner._special.Contains(tokens.Ids[i]);
                yield return ActivationBatch.ForExamples(split, acts, first, t, Enumerable.Repeat(-1, n).ToArray(), valid);
            }
        }
    }
}
