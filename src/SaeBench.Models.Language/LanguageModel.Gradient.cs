using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>The loss gradient at a residual-stream hook: a forward pass that records what it needs, then its backward.</summary>
public sealed partial class LanguageModel
{
    /// <inheritdoc cref="GradientFromHook(HookPoint, HostMatrix, int, IReadOnlyList{TokenTarget})"/>
    public LossGradient GradientFromHook(string hook, HostMatrix value, int context, IReadOnlyList<TokenTarget> targets) =>
        GradientFromHook(Hooks.Resolve(hook), value, context, targets);

    /// <summary>
    /// Continues the forward pass from the residual-stream <paramref name="hook"/> with <paramref name="value"/>
    /// (<c>[B·T, d_model]</c>, exactly as <see cref="ForwardFromHook(HookPoint, HostMatrix, TokenBatch?, int?, ForwardOptions?)"/>
    /// takes it, through the same code) and returns each target's next-token loss and the gradient of their sum with
    /// respect to <paramref name="value"/>. Only the layers after the hook keep activations for the backward; the logits
    /// are computed for the target rows only. Costs about three forward passes from the hook.
    /// </summary>
    public LossGradient GradientFromHook(HookPoint hook, HostMatrix value, int context, IReadOnlyList<TokenTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(targets);
        if (!Hooks.Contains(hook)) Hooks.Resolve(hook.Name);
        if (!hook.IsResidual)
            throw new ArgumentException($"The loss gradient starts at a residual-stream hook (hook_resid_pre, hook_resid_mid, hook_resid_post); {hook.Name} is not one.", nameof(hook));
        if (value.Cols != Config.DModel) throw new ArgumentException($"Value for {hook.Name} has {value.Cols} columns; the hook has {Config.DModel}.", nameof(value));
        if (context <= 0 || value.Rows % context != 0)
            throw new ArgumentException($"context {context}: the value's {value.Rows} rows are not whole sequences of that length.", nameof(context));
        CheckContext(context);
        CheckTargets(targets, value.Rows / context, context);

        using var tape = new Tape(Config.Layers);
        using var forward = ContinueFromResidual(hook, value, context, ForwardOptions.Plain, tape);
        var losses = new double[targets.Count];
        var gradient = HostMatrix.Rent(value.Rows, Config.DModel, clear: true);
        try
        {
            if (targets.Count > 0)
            {
                using var hiddenGrad = HostMatrix.Rent(value.Rows, Config.DModel, clear: true);
                LogitsBackward(forward.RequireHidden(), context, targets, losses, hiddenGrad);
                Backward(tape, value.Rows / context, context, hiddenGrad, gradient);
            }
            return new LossGradient(losses, gradient);
        }
        catch
        {
            gradient.Dispose();
            throw;
        }
    }

    private void CheckTargets(IReadOnlyList<TokenTarget> targets, int batch, int context)
    {
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            if ((uint)t.Sequence >= (uint)batch)
                throw new ArgumentException($"targets[{i}].Sequence = {t.Sequence} is outside the {batch} sequences of the value (0–{batch - 1}).", nameof(targets));
            if ((uint)t.Position >= (uint)context)
                throw new ArgumentException($"targets[{i}].Position = {t.Position} is outside the context of {context} positions (0–{context - 1}).", nameof(targets));
            if ((uint)t.Token >= (uint)Config.Vocab)
                throw new ArgumentException($"targets[{i}].Token = {t.Token} is outside the vocabulary of {Config.Vocab} tokens (0–{Config.Vocab - 1}).", nameof(targets));
        }
    }

    /// <summary>
    /// Losses of the target rows and ∂(Σ losses)/∂hidden (added into <paramref name="hiddenGrad"/>, zero elsewhere): the
    /// logits of only those rows (through <see cref="LogitsInto"/>, soft-cap included), <c>softmax − one-hot</c> through the
    /// soft-cap's derivative, then one GEMM with the unembedding.
    /// </summary>
    private void LogitsBackward(HostMatrix hidden, int context, IReadOnlyList<TokenTarget> targets, double[] losses, HostMatrix hiddenGrad)
    {
        int n = targets.Count, vocab = Config.Vocab;
        using var rows = HostMatrix.Rent(n, Config.DModel, clear: false);
        for (int i = 0; i < n; i++) hidden.Row(targets[i].Sequence * context + targets[i].Position).CopyTo(rows.Row(i));
        using var logits = HostMatrix.Rent(n, vocab, clear: false);
        LogitsInto(rows, logits);
        float cap = Config.FinalSoftCap;
        Span<float> scratch = stackalloc float[Math.Min(1024, vocab)];
        for (int i = 0; i < n; i++)
        {
            var row = logits.Row(i);
            int token = targets[i].Token;
            double lse = TransformerMath.LogSumExp(row, row[TensorPrimitives.IndexOfMax(row)], scratch);
            float targetLogit = row[token];
            losses[i] = lse - targetLogit;
            float shift = (float)lse;
            if (cap > 0f)
            {
                for (int j = 0; j < row.Length; j++)
                {
                    float l = row[j];
                    float ratio = l / cap;
                    row[j] = MathF.Exp(l - shift) * (1f - ratio * ratio);
                }
                float r = targetLogit / cap;
                row[token] -= 1f - r * r;
            }
            else
            {
                TensorPrimitives.Subtract(row, shift, row);
                TensorPrimitives.Exp(row, row);
                row[token] -= 1f;
            }
        }
        using var rowsGrad = HostMatrix.Rent(n, Config.DModel, clear: false);
        _backend.Gemm.Gemm(logits, false, Weights.Unembed, false, rowsGrad);
        for (int i = 0; i < n; i++)
        {
            var dst = hiddenGrad.Row(targets[i].Sequence * context + targets[i].Position);
            TensorPrimitives.Add(dst, rowsGrad.Row(i), dst);
        }
    }

    /// <summary>From ∂L/∂hidden back through the final norm and the recorded layers to the starting hook, into <paramref name="grad"/>.</summary>
    private void Backward(Tape tape, int batch, int context, HostMatrix hiddenGrad, HostMatrix grad)
    {
        var c = Config;
        var layout = new AttentionLayout(batch, context, c.Heads, c.KvHeads, c.HeadDim);
        using var buffers = new GradientBuffers(c, batch * context);
        NormBackward(tape[c.Layers, Tape.Slot.ResidPre], hiddenGrad, Weights.FinalNorm, grad, accumulate: false);
        for (int l = c.Layers - 1; l >= tape.FirstLayer; l--)
        {
            var w = Weights.Layers[l];
            // grad holds ∂L/∂resid_post of layer l.
            MlpBackward(l, w, tape, grad, buffers);
            if (c.ParallelResidual)
            {
                NormBackward(tape[l, Tape.Slot.ResidPre], buffers.Normed, w.Norm2, buffers.Parallel!, accumulate: false);
                AttentionBackward(l, w, tape, layout, grad, buffers);
                NormBackward(tape[l, Tape.Slot.ResidPre], buffers.Normed, w.Norm1, grad, accumulate: true);
                _ops.Add(grad, buffers.Parallel!);
                continue;
            }
            NormBackward(tape[l, Tape.Slot.MlpInput], buffers.Normed, w.Norm2, grad, accumulate: true);
            // grad holds ∂L/∂resid_mid.
            if (l == tape.FirstLayer && tape.StartsAt == HookKind.ResidMid) break;
            AttentionBackward(l, w, tape, layout, grad, buffers);
            NormBackward(tape[l, Tape.Slot.ResidPre], buffers.Normed, w.Norm1, grad, accumulate: true);
        }
    }

    /// <summary>∂L/∂(ln2 output) into <c>buffers.Normed</c>, given ∂L/∂mlp_out.</summary>
    private void MlpBackward(int l, LayerWeights w, Tape tape, HostMatrix outGrad, GradientBuffers buffers)
    {
        var source = outGrad;
        if (w.PostMlpNorm is { } pmn)
        {
            NormBackward(tape[l, Tape.Slot.MlpPreNorm], outGrad, pmn, buffers.Branch!, accumulate: false);
            source = buffers.Branch!;
        }
        var activation = new Pointwise(Config.Activation);
        if (Config.GatedMlp)
        {
            _backend.Gemm.Gemm(source, false, w.MlpOut, true, buffers.Activated!);
            _backward.GateBackward(tape[l, Tape.Slot.MlpHidden], buffers.Activated!, buffers.MlpHidden, activation);
        }
        else
        {
            _backend.Gemm.Gemm(source, false, w.MlpOut, true, buffers.MlpHidden);
            _backward.ApplyBackward(tape[l, Tape.Slot.MlpHidden], buffers.MlpHidden, activation);
        }
        _backend.Gemm.Gemm(buffers.MlpHidden, false, w.MlpIn, true, buffers.Normed);
    }

    /// <summary>∂L/∂(ln1 output) into <c>buffers.Normed</c>, given ∂L/∂attn_out.</summary>
    private void AttentionBackward(int l, LayerWeights w, Tape tape, AttentionLayout layout, HostMatrix outGrad, GradientBuffers buffers)
    {
        var source = outGrad;
        if (w.PostAttentionNorm is { } pan)
        {
            NormBackward(tape[l, Tape.Slot.AttnPreNorm], outGrad, pan, buffers.Branch!, accumulate: false);
            source = buffers.Branch!;
        }
        _backend.Gemm.Gemm(source, false, w.Out, true, buffers.Z);
        var options = new AttentionOptions(Config.AttentionScale[l], Config.AttentionSoftCap, Config.SlidingWindow[l]);
        _backward.AttendBackward(tape[l, Tape.Slot.Qkv], buffers.Z, buffers.Qkv, layout, options);
        if (_rotary is not null) _backward.RotaryBackward(buffers.Qkv, layout, _rotary);
        _backend.Gemm.Gemm(buffers.Qkv, false, w.Qkv, true, buffers.Normed);
    }

    private void NormBackward(HostMatrix input, HostMatrix outputGrad, NormWeights norm, HostMatrix inputGrad, bool accumulate)
    {
        if (Config.Norm == NormKind.LayerNorm) _backward.LayerNormBackward(input, outputGrad, norm.Scale, Config.NormEps, inputGrad, accumulate);
        else _backward.RmsNormBackward(input, outputGrad, norm.Scale, Config.NormEps, inputGrad, accumulate);
    }

    /// <summary>
    /// What a recorded forward pass keeps per layer for the backward (rented copies): the inputs of the norms, the rotated
    /// Q|K|V, the MLP pre-activations; slot <see cref="Slot.ResidPre"/> of layer <c>Layers</c> is the final norm's input
    /// (with a parallel residual the MLP's norm reads the block input too, so <see cref="Slot.MlpInput"/> stays empty).
    /// Only the layers the pass runs (those after the starting hook) are filled.
    /// </summary>
    private sealed class Tape(int layers) : IDisposable
    {
        public enum Slot
        {
            ResidPre,
            Qkv,
            AttnPreNorm,
            MlpInput,
            MlpHidden,
            MlpPreNorm,
        }

        private const int Slots = 6;
        private readonly HostMatrix?[] _kept = new HostMatrix?[(layers + 1) * Slots];

        /// <summary>The layer the pass started in and the residual hook it started from there.</summary>
        public int FirstLayer { get; private set; }

        public HookKind StartsAt { get; private set; }

        public void Begin(int layer, HookKind at)
        {
            FirstLayer = layer;
            StartsAt = at;
        }

        public void Keep(int layer, Slot slot, HostMatrix value)
        {
            ref var kept = ref _kept[layer * Slots + (int)slot];
            if (kept is null || kept.Rows != value.Rows || kept.Cols != value.Cols)
            {
                kept?.Dispose();
                kept = HostMatrix.Rent(value.Rows, value.Cols, clear: false);
            }
            value.Span.CopyTo(kept.Span);
        }

        public HostMatrix this[int layer, Slot slot] =>
            _kept[layer * Slots + (int)slot] ?? throw new InvalidOperationException($"The forward pass did not record {slot} of layer {layer}.");

        public void Dispose()
        {
            for (int i = 0; i < _kept.Length; i++)
            {
                _kept[i]?.Dispose();
                _kept[i] = null;
            }
        }
    }

    /// <summary>The backward's work buffers, rented per call.</summary>
    private sealed class GradientBuffers : IDisposable
    {
        public GradientBuffers(TransformerConfig c, int rows)
        {
            Normed = HostMatrix.Rent(rows, c.DModel, clear: false);
            Branch = c.PostNorms ? HostMatrix.Rent(rows, c.DModel, clear: false) : null;
            Parallel = c.ParallelResidual ? HostMatrix.Rent(rows, c.DModel, clear: false) : null;
            Z = HostMatrix.Rent(rows, c.QueryWidth, clear: false);
            Qkv = HostMatrix.Rent(rows, c.FusedQkvWidth, clear: false);
            MlpHidden = HostMatrix.Rent(rows, c.MlpInWidth, clear: false);
            Activated = c.GatedMlp ? HostMatrix.Rent(rows, c.DMlp, clear: false) : null;
        }

        /// <summary>∂L/∂(a norm's output) on its way into the norm's backward.</summary>
        public HostMatrix Normed { get; }

        /// <summary>∂L/∂(the input of a post-norm) (Gemma-2).</summary>
        public HostMatrix? Branch { get; }

        /// <summary>The MLP branch's ∂L/∂resid_pre with a parallel residual.</summary>
        public HostMatrix? Parallel { get; }

        public HostMatrix Z { get; }
        public HostMatrix Qkv { get; }
        public HostMatrix MlpHidden { get; }
        public HostMatrix? Activated { get; }

        public void Dispose()
        {
            Normed.Dispose();
            Branch?.Dispose();
            Parallel?.Dispose();
            Z.Dispose();
            Qkv.Dispose();
            MlpHidden.Dispose();
            Activated?.Dispose();
        }
    }
}
