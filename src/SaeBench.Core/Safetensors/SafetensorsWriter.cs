using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Results;

namespace SaeBench.Core.Safetensors;

/// <summary>A tensor to write: name, dtype, shape and its elements (an array of the matching CLR type).</summary>
public sealed class SafetensorsTensor
{
    private readonly Array _data;

    private SafetensorsTensor(string name, SafetensorsDType dtype, long[] shape, Array data)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor '{name}': negative dimension in shape.");
            n *= d;
        }
        if (n != data.LongLength) throw new ArgumentException($"Tensor '{name}': shape [{string.Join(", ", shape)}] needs {n} elements, got {data.LongLength}.");
        Name = name;
        DType = dtype;
        Shape = shape;
        _data = data;
    }

    public string Name { get; }
    public SafetensorsDType DType { get; }
    public IReadOnlyList<long> Shape { get; }
    public long ByteCount => _data.LongLength * DType.Size();

    public static SafetensorsTensor F32(string name, float[] values, params long[] shape) => new(name, SafetensorsDType.F32, shape, values);

    public static SafetensorsTensor F32(string name, HostMatrix matrix) => new(name, SafetensorsDType.F32, [matrix.Rows, matrix.Cols], matrix.ToArray());

    public static SafetensorsTensor F64(string name, double[] values, params long[] shape) => new(name, SafetensorsDType.F64, shape, values);

    public static SafetensorsTensor I64(string name, long[] values, params long[] shape) => new(name, SafetensorsDType.I64, shape, values);

    public static SafetensorsTensor I32(string name, int[] values, params long[] shape) => new(name, SafetensorsDType.I32, shape, values);

    public static SafetensorsTensor U8(string name, byte[] values, params long[] shape) => new(name, SafetensorsDType.U8, shape, values);

    public static SafetensorsTensor Bool(string name, bool[] values, params long[] shape) =>
        new(name, SafetensorsDType.BOOL, shape, values.Select(v => v ? (byte)1 : (byte)0).ToArray());

    /// <summary>float32 values narrowed to F16 or BF16 (round to nearest even).</summary>
    public static SafetensorsTensor Half(string name, float[] values, HalfKind kind, params long[] shape)
    {
        var bits = new ushort[values.Length];
        ReducedPrecision.Narrow(values, bits, kind);
        return new(name, kind == HalfKind.BF16 ? SafetensorsDType.BF16 : SafetensorsDType.F16, shape, bits);
    }

    internal ReadOnlySpan<byte> Bytes => _data switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
        long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
        int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
        ushort[] u => MemoryMarshal.AsBytes(u.AsSpan()),
        byte[] b => b,
        _ => throw new InvalidOperationException($"Unsupported element array {_data.GetType().Name}."),
    };
}

/// <summary>Writes safetensors files: tensors in the given order, contiguous, header padded to 8 bytes; written atomically.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Name == "__metadata__" || !names.Add(t.Name)) throw new ArgumentException($"Tensor name '{t.Name}' is reserved or duplicated.");
        }

        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToString());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteCount);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteCount;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            header.Position = 0;
            header.CopyTo(stream);
            foreach (var t in tensors) stream.Write(t.Bytes);
        });
    }
}
