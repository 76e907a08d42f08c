using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Kernels;

/// <summary>
/// The backward (vector–Jacobian products with respect to activations, not weights) of the forward kernels, on host
/// matrices. Not part of <see cref="ITransformerOps"/>: only the language model's loss gradient uses them, and the
/// linear layers' backward goes through <see cref="IGemm"/> like their forward.
/// </summary>
public sealed partial class CpuTransformerOps
{
    /// <summary>Backward of <see cref="LayerNorm"/> (the bias does not matter): <paramref name="inputGrad"/> = (or +=, when
    /// <paramref name="accumulate"/>) ∂L/∂input given the input and ∂L/∂output.</summary>
    public void LayerNormBackward(HostMatrix input, HostMatrix outputGrad, HostMatrix? weight, float eps, HostMatrix inputGrad, bool accumulate)
    {
        SameShape(input, outputGrad, nameof(LayerNormBackward));
        SameShape(input, inputGrad, nameof(LayerNormBackward));
        var w = Vector(weight, input.Cols, "weight");
        Rows(input.Rows, input.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
                TransformerMath.LayerNormBackwardRow(input.Row(r), outputGrad.Row(r), w is null ? default : w.Span, eps, inputGrad.Row(r), accumulate);
        });
    }

    /// <summary>Backward of <see cref="RmsNorm"/>: <paramref name="inputGrad"/> = (or +=) ∂L/∂input.</summary>
    public void RmsNormBackward(HostMatrix input, HostMatrix outputGrad, HostMatrix? weight, float eps, HostMatrix inputGrad, bool accumulate)
    {
        SameShape(input, outputGrad, nameof(RmsNormBackward));
        SameShape(input, inputGrad, nameof(RmsNormBackward));
        var w = Vector(weight, input.Cols, "weight");
        Rows(input.Rows, input.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
                TransformerMath.RmsNormBackwardRow(input.Row(r), outputGrad.Row(r), w is null ? default : w.Span, eps, inputGrad.Row(r), accumulate);
        });
    }

    /// <summary>Backward of <see cref="Apply"/>: multiplies <paramref name="grad"/> in place by f′ at the pre-activation <paramref name="input"/>.</summary>
    public void ApplyBackward(HostMatrix input, HostMatrix grad, Pointwise function)
    {
        SameShape(input, grad, nameof(ApplyBackward));
        Rows(input.Rows, input.Cols, (start, end) =>
            TransformerMath.ActivateBackward(input.SliceRows(start, end - start).Span, grad.SliceRows(start, end - start).Span, function));
    }

    /// <summary>Backward of <see cref="Gate"/>: given <c>[gate | up]</c> and ∂L/∂output, writes
    /// <c>[∂L/∂gate | ∂L/∂up] = [dout·up·f′(gate) | dout·f(gate)]</c> into <paramref name="gateAndUpGrad"/>.</summary>
    public void GateBackward(HostMatrix gateAndUp, HostMatrix outputGrad, HostMatrix gateAndUpGrad, Pointwise function)
    {
        SameShape(gateAndUp, gateAndUpGrad, nameof(GateBackward));
        if (gateAndUp.Rows != outputGrad.Rows || gateAndUp.Cols != 2 * outputGrad.Cols)
            throw new ArgumentException($"Gate backward needs [rows, 2·cols] and [rows, cols]; got {gateAndUp.Rows}×{gateAndUp.Cols} and {outputGrad.Rows}×{outputGrad.Cols}.");
        int cols = outputGrad.Cols;
        Rows(gateAndUp.Rows, gateAndUp.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var row = gateAndUp.Row(r);
                var gate = row[..cols];
                var up = row.Slice(cols, cols);
                var dout = outputGrad.Row(r);
                var dst = gateAndUpGrad.Row(r);
                var dGate = dst[..cols];
                var dUp = dst.Slice(cols, cols);
                gate.CopyTo(dUp);
                TransformerMath.Activate(dUp, function);
                TensorPrimitives.Multiply(dUp, dout, dUp);
                TensorPrimitives.Multiply(dout, up, dGate);
                TransformerMath.ActivateBackward(gate, dGate, function);
            }
        });
    }

    /// <summary>Backward of <see cref="Rotary"/>: rotates the query and key heads of a gradient <c>[rows, fused]</c> back, in place.</summary>
    public void RotaryBackward(HostMatrix qkvGrad, AttentionLayout layout, RotaryTable table)
    {
        layout.Validate();
        CheckFused(qkvGrad, layout);
        if (table.RotaryDim > layout.HeadDim || layout.Context > table.Positions)
            throw new ArgumentException($"Rotary table ({table.RotaryDim} dims, {table.Positions} positions) does not fit head dimension {layout.HeadDim}, context {layout.Context}.");
        int half = table.RotaryDim / 2;
        int rotatedHeads = layout.Heads + layout.KvHeads;
        Rows(qkvGrad.Rows, qkvGrad.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                int position = r % layout.Context;
                var cos = table.Cos.Slice(position * half, half);
                var sin = table.Sin.Slice(position * half, half);
                var row = qkvGrad.Row(r);
                for (int h = 0; h < rotatedHeads; h++) TransformerMath.RotateHalfBackward(row.Slice(h * layout.HeadDim, layout.HeadDim), cos, sin);
            }
        });
    }

    /// <summary>
    /// Backward of <see cref="Attend"/>: given the (rotated) fused <paramref name="qkv"/> of the forward pass and ∂L/∂z,
    /// writes ∂L/∂qkv (<c>[rows, fused]</c>; query, key and value parts). Split over (example, key/value head) so that the
    /// query heads sharing a key/value head (GQA) accumulate into it on one thread.
    /// </summary>
    public void AttendBackward(HostMatrix qkv, HostMatrix zGrad, HostMatrix qkvGrad, AttentionLayout layout, AttentionOptions options)
    {
        layout.Validate();
        CheckFused(qkv, layout);
        CheckFused(qkvGrad, layout);
        if (zGrad.Rows != layout.Rows || zGrad.Cols != layout.QueryWidth)
            throw new ArgumentException($"Attention output gradient is {zGrad.Rows}×{zGrad.Cols}; the layout needs {layout.Rows}×{layout.QueryWidth}.");
        qkvGrad.Span.Clear();
        int group = layout.Heads / layout.KvHeads;
        int items = layout.Batch * layout.KvHeads;
        int stride = layout.FusedWidth;
        int context = layout.Context;
        unsafe void Work(int item, float[] scratch)
        {
            int b = item / layout.KvHeads, kv = item % layout.KvHeads;
            var (qa, qo) = qkv.Raw;
            var (ga, go) = qkvGrad.Raw;
            var (za, zo) = zGrad.Raw;
            fixed (float* pq = &qa[qo + b * context * stride])
            fixed (float* pg = &ga[go + b * context * stride])
            fixed (float* pz = &za[zo + b * context * zGrad.Cols])
            fixed (float* ps = scratch)
            {
                for (int h = kv * group; h < (kv + 1) * group; h++)
                    TransformerMath.AttendHeadBackward(pq, pg, stride, context, layout.HeadDim,
                        h * layout.HeadDim, layout.QueryWidth + kv * layout.HeadDim, layout.QueryWidth + layout.KvWidth + kv * layout.HeadDim,
                        pz, zGrad.Cols, h * layout.HeadDim, options.Scale, options.SoftCap, options.Window, ps);
            }
        }
        long work = (long)layout.Rows * context * layout.QueryWidth;
        if (items == 1 || _threads == 1 || work < ParallelThreshold)
        {
            var scratch = new float[3 * context];
            for (int i = 0; i < items; i++) Work(i, scratch);
            return;
        }
        Parallel.For(0, items, new ParallelOptions { MaxDegreeOfParallelism = _threads },
            () => new float[3 * context],
            (i, _, scratch) =>
            {
                Work(i, scratch);
                return scratch;
            },
            _ => { });
    }
}
