using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>Options for <see cref="LanguageModel.Load"/>.</summary>
/// <param name="Processing">TransformerLens weight processing to apply (narrowed per model by <see cref="WeightProcessing.EffectiveFor"/>).</param>
/// <param name="Backend">The compute backend; the CPU backend (OpenBLAS when present) when null.</param>
/// <param name="Revision">Revision to follow when the path is a Hub cache repo folder.</param>
public sealed record LanguageModelOptions(WeightProcessing? Processing = null, ComputeBackend? Backend = null, string Revision = "main");

/// <summary>
/// A decoder-only transformer language model in float32 on the host: loaded from a Hugging Face snapshot (or built
/// from weights), run over fixed-length batches <c>[B, T]</c>, with TransformerLens hook names for reading and
/// replacing activations. Immutable after construction: concurrent forward passes are safe.
/// </summary>
public sealed partial class LanguageModel
{
    private readonly ComputeBackend _backend;
    private readonly ITransformerOps _ops;
    private readonly RotaryTable? _rotary;
    private readonly CpuTransformerOps _backward;

    /// <summary>
    /// A model over <paramref name="weights"/>, which it takes over: <paramref name="processing"/> is applied to them in
    /// place (narrowed by <see cref="WeightProcessing.EffectiveFor"/>), so do not share one weights object between models.
    /// </summary>
    public LanguageModel(TransformerConfig config, TransformerWeights weights, WeightProcessing? processing = null, ComputeBackend? backend = null, string? source = null)
    {
        config.Validate();
        Config = config;
        Weights = weights;
        Processing = (processing ?? WeightProcessing.None).EffectiveFor(config);
        WeightProcessor.Apply(config, weights, Processing);
        _backend = backend ?? CpuBackend.Create();
        _ops = _backend.Transformer ?? throw new ArgumentException($"Backend '{_backend.Name}' has no transformer kernels.", nameof(backend));
        _backward = _ops as CpuTransformerOps ?? new CpuTransformerOps();
        if (config.Rotary is { } r) _rotary = RotaryTable.Create(r.InverseFrequencies(), config.MaxPositions);
        Hooks = new HookCatalog(config);
        Source = source;
    }

    /// <summary>Loads a snapshot folder or Hub cache repo folder (see <see cref="HfSnapshot.Open"/>).</summary>
    public static LanguageModel Load(string path, LanguageModelOptions? options = null)
    {
        options ??= new LanguageModelOptions();
        using var snapshot = HfSnapshot.Open(path, options.Revision);
        var weights = HfWeightLoader.Load(snapshot);
        return new LanguageModel(snapshot.Config, weights, options.Processing, options.Backend, snapshot.Directory);
    }

    public TransformerConfig Config { get; }

    /// <summary>The weights, after processing. Do not modify them.</summary>
    public TransformerWeights Weights { get; }

    /// <summary>The processing actually applied.</summary>
    public WeightProcessing Processing { get; }

    public HookCatalog Hooks { get; }

    /// <summary>The snapshot folder the model came from, if any.</summary>
    public string? Source { get; }

    public ComputeBackend Backend => _backend;

    /// <summary>Runs the whole model (or up to the last hook when asked), calling the handler at its hooks.</summary>
    public ForwardResult Forward(TokenBatch tokens, ForwardOptions? options = null)
    {
        options ??= ForwardOptions.Plain;
        CheckTokens(tokens);
        return Run(tokens.Batch, tokens.Context, options, state =>
        {
            _ops.Gather(tokens.Ids, Weights.Embed, state.Resid, Config.EmbeddingScale, accumulate: false);
            if (Weights.Positions is { } positions)
            {
                var index = new int[tokens.Tokens];
                for (int i = 0; i < index.Length; i++) index[i] = i % tokens.Context;
                _ops.Gather(index, positions, state.Resid, 1f, accumulate: true);
            }
            return new Stage(0, HookKind.ResidPre, FireStart: true);
        });
    }

    /// <summary>
    /// Continues the forward pass from <paramref name="hook"/> with <paramref name="value"/> (<c>[B·T, width]</c>) standing
    /// in for that hook's activation. From a residual-stream hook only the rest of the model runs and
    /// <paramref name="tokens"/> may be null (give <paramref name="context"/>); from any other hook the prefix is recomputed
    /// from <paramref name="tokens"/> and the value spliced in.
    /// </summary>
    public ForwardResult ForwardFromHook(string hook, HostMatrix value, TokenBatch? tokens, int? context = null, ForwardOptions? options = null) =>
        ForwardFromHook(Hooks.Resolve(hook), value, tokens, context, options);

    /// <inheritdoc cref="ForwardFromHook(string, HostMatrix, TokenBatch?, int?, ForwardOptions?)"/>
    public ForwardResult ForwardFromHook(HookPoint hook, HostMatrix value, TokenBatch? tokens, int? context = null, ForwardOptions? options = null)
    {
        if (!Hooks.Contains(hook)) Hooks.Resolve(hook.Name);
        options ??= ForwardOptions.Plain;
        int width = Hooks.Width(hook);
        if (value.Cols != width) throw new ArgumentException($"Value for {hook.Name} has {value.Cols} columns; the hook has {width}.");
        if (!hook.IsResidual)
        {
            if (tokens is null) throw new ArgumentException($"Continuing from {hook.Name} needs the tokens (only residual-stream hooks can start without them).");
            if (value.Rows != tokens.Tokens) throw new ArgumentException($"Value for {hook.Name} has {value.Rows} rows for {tokens.Tokens} tokens.");
            var hooks = new HashSet<HookPoint>(options.Hooks) { hook };
            return Forward(tokens, options with { Hooks = hooks, Handler = new SpliceHandler(hook, value, new Filtered(options.Hooks, options.Handler)) });
        }
        int t = tokens?.Context ?? context ?? throw new ArgumentException($"Give the tokens or the context length to continue from {hook.Name}.");
        if (tokens is not null) CheckTokens(tokens);
        return ContinueFromResidual(hook, value, t, options, tape: null);
    }

    /// <summary>The forward pass from a residual-stream hook (shared by <see cref="ForwardFromHook(HookPoint, HostMatrix, TokenBatch?, int?, ForwardOptions?)"/>
    /// and the loss gradient, which records what its backward needs on <paramref name="tape"/>).</summary>
    private ForwardResult ContinueFromResidual(HookPoint hook, HostMatrix value, int t, ForwardOptions options, Tape? tape)
    {
        if (t <= 0 || value.Rows % t != 0) throw new ArgumentException($"{value.Rows} rows are not whole sequences of {t} tokens.");
        CheckContext(t);
        var filtered = options with { Hooks = options.Hooks.Where(h => h.Order > hook.Order).ToArray() };
        return Run(value.Rows / t, t, filtered, tape, state =>
        {
            value.Span.CopyTo(state.Resid.Span);
            return hook.Kind switch
            {
                HookKind.ResidPre => new Stage(hook.Layer, HookKind.ResidPre, FireStart: false),
                HookKind.ResidMid => new Stage(hook.Layer, HookKind.ResidMid, FireStart: false),
                _ => new Stage(hook.Layer + 1, HookKind.ResidPre, FireStart: true),
            };
        });
    }

    /// <summary>Runs to <paramref name="hook"/> (and no further) and returns a copy of its value, <c>[B·T, width]</c>.</summary>
    public HostMatrix RunToHook(TokenBatch tokens, string hook)
    {
        using var values = RunWithHooks(tokens, [hook]);
        return values.Take(Hooks.Resolve(hook).Name);
    }

    /// <summary>
    /// One pass that captures every hook in <paramref name="hooks"/> (<c>"all"</c> expands to every hook) and stops after the
    /// last of them unless <paramref name="runToEnd"/>; returns the copies (dispose the collector).
    /// </summary>
    public HookCollector RunWithHooks(TokenBatch tokens, IEnumerable<string> hooks, bool runToEnd = false)
    {
        var points = ResolveAll(hooks);
        var collector = new HookCollector();
        try
        {
            using var _ = Forward(tokens, new ForwardOptions(points, collector, StopAfterLastHook: !runToEnd));
            return collector;
        }
        catch
        {
            collector.Dispose();
            throw;
        }
    }

    /// <summary>Resolves names (or <c>all</c>) to hooks, with "did you mean" errors.</summary>
    public IReadOnlyList<HookPoint> ResolveAll(IEnumerable<string> names)
    {
        var set = new SortedSet<HookPoint>();
        foreach (var n in names)
        {
            if (n.Trim() == "all") set.UnionWith(Hooks.All);
            else set.Add(Hooks.Resolve(n));
        }
        return set.ToArray();
    }

    /// <summary>Full logits <c>[rows, vocab]</c> of a hidden state (debug-sized inputs only; use <see cref="LossEvaluator"/> for metrics).</summary>
    public HostMatrix Logits(HostMatrix hidden)
    {
        var logits = new HostMatrix(hidden.Rows, Config.Vocab);
        LogitsInto(hidden, logits);
        return logits;
    }

    /// <summary>Logits of <paramref name="hidden"/> rows into <paramref name="destination"/> (<c>[rows, vocab]</c>), soft-capped where the model does.</summary>
    public void LogitsInto(HostMatrix hidden, HostMatrix destination)
    {
        if (hidden.Cols != Config.DModel || destination.Rows != hidden.Rows || destination.Cols != Config.Vocab)
            throw new ArgumentException($"Logits of {hidden.Rows}×{hidden.Cols} into {destination.Rows}×{destination.Cols}; need d_model {Config.DModel}, vocab {Config.Vocab}.");
        _backend.Gemm.Gemm(hidden, false, Weights.Unembed, true, destination);
        if (Weights.UnembedBias is { } b) _backend.Activations.AddRowVector(destination, b);
        if (Config.FinalSoftCap > 0f) _ops.Apply(destination, Pointwise.SoftCap(Config.FinalSoftCap));
    }

    internal ITransformerOps Ops => _ops;

    private void CheckTokens(TokenBatch tokens)
    {
        tokens.CheckVocabulary(Config.Vocab);
        CheckContext(tokens.Context);
    }

    private void CheckContext(int context)
    {
        if (context > Config.MaxPositions)
            throw new ArgumentException($"Context {context} exceeds the model's {Config.MaxPositions} positions.");
    }

    /// <summary>Where a pass starts: a layer and the hook whose value the residual buffer holds.</summary>
    private readonly record struct Stage(int Layer, HookKind At, bool FireStart);

    private ForwardResult Run(int batch, int context, ForwardOptions options, Func<State, Stage> start) =>
        Run(batch, context, options, tape: null, start);

    /// <summary>The forward pass. With a <paramref name="tape"/>, each layer it runs keeps copies of the tensors the
    /// backward needs (norm inputs, the rotated Q|K|V, the MLP pre-activations, the final norm's input).</summary>
    private ForwardResult Run(int batch, int context, ForwardOptions options, Tape? tape, Func<State, Stage> start)
    {
        var c = Config;
        using var state = new State(c, batch * context);
        var wanted = new HashSet<HookPoint>(options.Hooks);
        foreach (var h in wanted)
            if (!Hooks.Contains(h)) Hooks.Resolve(h.Name);
        int last = wanted.Count == 0 ? -1 : wanted.Max(h => h.Order);
        bool stopEarly = options.StopAfterLastHook && wanted.Count > 0;
        var layout = new AttentionLayout(batch, context, c.Heads, c.KvHeads, c.HeadDim);

        // Returns true when the pass should stop here.
        bool Fire(HookPoint hook, HostMatrix value)
        {
            if (wanted.Contains(hook)) options.Handler?.OnHook(hook, value);
            return stopEarly && hook.Order >= last;
        }

        var stage = start(state);
        tape?.Begin(stage.Layer, stage.At);
        for (int l = stage.Layer; l < c.Layers; l++)
        {
            var w = Weights.Layers[l];
            bool fromMid = l == stage.Layer && stage.At == HookKind.ResidMid;
            if (!fromMid)
            {
                if ((l != stage.Layer || stage.FireStart) && Fire(new HookPoint(l, HookKind.ResidPre), state.Resid)) return Stopped();
                tape?.Keep(l, Tape.Slot.ResidPre, state.Resid);
                Norm(state.Resid, state.Normed, w.Norm1);
                Linear(state.Normed, w.Qkv, w.QkvBias, state.Qkv);
                if (_rotary is not null) _ops.Rotary(state.Qkv, layout, _rotary);
                tape?.Keep(l, Tape.Slot.Qkv, state.Qkv);
                _ops.Attend(state.Qkv, state.Z, layout, new AttentionOptions(c.AttentionScale[l], c.AttentionSoftCap, c.SlidingWindow[l]));
                if (Fire(new HookPoint(l, HookKind.Z), state.Z)) return Stopped();
                Linear(state.Z, w.Out, w.OutBias, state.AttnOut);
                if (w.PostAttentionNorm is { } pan)
                {
                    tape?.Keep(l, Tape.Slot.AttnPreNorm, state.AttnOut);
                    Norm(state.AttnOut, state.AttnOut, pan);
                }
                if (Fire(new HookPoint(l, HookKind.AttnOut), state.AttnOut)) return Stopped();
                if (c.ParallelResidual)
                {
                    Mlp(w, state, state.Resid, tape, l);
                    if (Fire(new HookPoint(l, HookKind.MlpOut), state.MlpOut)) return Stopped();
                    _ops.Add(state.Resid, state.AttnOut);
                    _ops.Add(state.Resid, state.MlpOut);
                    if (Fire(new HookPoint(l, HookKind.ResidPost), state.Resid)) return Stopped();
                    continue;
                }
                _ops.Add(state.Resid, state.AttnOut);
                if (Fire(new HookPoint(l, HookKind.ResidMid), state.Resid)) return Stopped();
            }
            Mlp(w, state, state.Resid, tape, l);
            if (Fire(new HookPoint(l, HookKind.MlpOut), state.MlpOut)) return Stopped();
            _ops.Add(state.Resid, state.MlpOut);
            if (Fire(new HookPoint(l, HookKind.ResidPost), state.Resid)) return Stopped();
        }
        var hidden = new HostMatrix(state.Rows, c.DModel);
        tape?.Keep(c.Layers, Tape.Slot.ResidPre, state.Resid);
        Norm(state.Resid, hidden, Weights.FinalNorm);
        return new ForwardResult(batch, context, hidden);

        ForwardResult Stopped() => new(batch, context, null);
    }

    private void Mlp(LayerWeights w, State state, HostMatrix input, Tape? tape, int layer)
    {
        if (!Config.ParallelResidual) tape?.Keep(layer, Tape.Slot.MlpInput, input); // else the block input, kept as ResidPre
        Norm(input, state.Normed, w.Norm2);
        Linear(state.Normed, w.MlpIn, w.MlpInBias, state.MlpHidden);
        tape?.Keep(layer, Tape.Slot.MlpHidden, state.MlpHidden);
        HostMatrix activated;
        if (Config.GatedMlp)
        {
            _ops.Gate(state.MlpHidden, state.MlpGated!, new Pointwise(Config.Activation));
            activated = state.MlpGated!;
        }
        else
        {
            _ops.Apply(state.MlpHidden, new Pointwise(Config.Activation));
            activated = state.MlpHidden;
        }
        Linear(activated, w.MlpOut, w.MlpOutBias, state.MlpOut);
        if (w.PostMlpNorm is { } pmn)
        {
            tape?.Keep(layer, Tape.Slot.MlpPreNorm, state.MlpOut);
            Norm(state.MlpOut, state.MlpOut, pmn);
        }
    }

    private void Norm(HostMatrix input, HostMatrix output, NormWeights norm)
    {
        if (Config.Norm == NormKind.LayerNorm) _ops.LayerNorm(input, output, norm.Scale, norm.Bias, Config.NormEps);
        else _ops.RmsNorm(input, output, norm.Scale, Config.NormEps);
    }

    /// <summary><c>output = input·weight + bias</c>: the bias is broadcast into the output first and the GEMM accumulates onto
    /// it (β = 1), which saves the separate pass a bias add after the GEMM would make (BLAS clears C for β = 0 anyway).</summary>
    private void Linear(HostMatrix input, HostMatrix weight, HostMatrix? bias, HostMatrix output)
    {
        if (bias is null)
        {
            _backend.Gemm.Gemm(input, false, weight, false, output);
            return;
        }
        _ops.Gather(new int[output.Rows], bias, output, 1f, accumulate: false);
        _backend.Gemm.Gemm(input, false, weight, false, output, 1f, 1f);
    }

    /// <summary>Per-pass buffers, rented from the pool.</summary>
    private sealed class State : IDisposable
    {
        public State(TransformerConfig c, int rows)
        {
            Rows = rows;
            Resid = HostMatrix.Rent(rows, c.DModel, clear: false);
            Normed = HostMatrix.Rent(rows, c.DModel, clear: false);
            Qkv = HostMatrix.Rent(rows, c.FusedQkvWidth, clear: false);
            Z = HostMatrix.Rent(rows, c.QueryWidth, clear: false);
            AttnOut = HostMatrix.Rent(rows, c.DModel, clear: false);
            MlpHidden = HostMatrix.Rent(rows, c.MlpInWidth, clear: false);
            MlpGated = c.GatedMlp ? HostMatrix.Rent(rows, c.DMlp, clear: false) : null;
            MlpOut = HostMatrix.Rent(rows, c.DModel, clear: false);
        }

        public int Rows { get; }
        public HostMatrix Resid { get; }
        public HostMatrix Normed { get; }
        public HostMatrix Qkv { get; }
        public HostMatrix Z { get; }
        public HostMatrix AttnOut { get; }
        public HostMatrix MlpHidden { get; }
        public HostMatrix? MlpGated { get; }
        public HostMatrix MlpOut { get; }

        public void Dispose()
        {
            Resid.Dispose();
            Normed.Dispose();
            Qkv.Dispose();
            Z.Dispose();
            AttnOut.Dispose();
            MlpHidden.Dispose();
            MlpGated?.Dispose();
            MlpOut.Dispose();
        }
    }

    /// <summary>Passes only the hooks the caller asked for to the caller's handler (a splice adds its own hook).</summary>
    private sealed class Filtered(IReadOnlyCollection<HookPoint> hooks, IHookHandler? inner) : IHookHandler
    {
        private readonly HashSet<HookPoint> _hooks = [.. hooks];

        public void OnHook(HookPoint hook, HostMatrix value)
        {
            if (_hooks.Contains(hook)) inner?.OnHook(hook, value);
        }
    }
}
