using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;

namespace SaeBench.Core.Safetensors;

/// <summary>
/// A safetensors file opened for reading. <see cref="Open"/> reads and validates only the header; tensor data
/// is read on demand through a read-only memory map, so inspecting a large file touches only what is asked for.
/// Every problem is a <see cref="CheckpointFormatException"/> naming the file and the tensor or field.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (the format's own limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _base;
    private bool _disposed;

    private SafetensorsFile(string path, long fileLength, long dataStart, IReadOnlyList<SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        DataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }
    public long FileLength { get; }

    /// <summary>Absolute file offset of the data section (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>The tensors, in data-offset order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>The optional <c>__metadata__</c> string map.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Bytes of tensor data read so far (the header is not counted).</summary>
    public long DataBytesRead { get; private set; }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGet(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>The entry for <paramref name="name"/>; a missing tensor is an error naming the file and the tensor.</summary>
    public SafetensorsTensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info)
            ? info
            : throw new CheckpointFormatException(Path, name,
                $"required tensor is missing (present: {(Tensors.Count == 0 ? "none" : string.Join(", ", Tensors.Select(t => t.Name)))})");

    /// <summary>Reads and validates the header only. No tensor data is read.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, null, "file does not exist");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long length = stream.Length;
        if (length < 8)
            throw new CheckpointFormatException(path, "header length", $"file is truncated: {length} bytes, fewer than the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointFormatException(path, "header length", $"header of {headerLength} bytes exceeds the {MaxHeaderBytes / 1_000_000} MB limit");
        if ((long)headerLength > length - 8)
            throw new CheckpointFormatException(path, "header length",
                $"header of {headerLength} bytes runs past the end of the file ({length} bytes): the file is truncated or not safetensors");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        var (tensors, metadata) = ParseHeader(path, header, length - dataStart);
        return new SafetensorsFile(path, length, dataStart, tensors, metadata);
    }

    private static (List<SafetensorsTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = StrictJson.Parse(header.AsMemory().TrimEnd((byte)' ').TrimEnd((byte)0));
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, "header", $"header is not valid JSON ({e.Message})");
        }
        catch (DecoderFallbackException e)
        {
            throw new CheckpointFormatException(path, "header", $"header is not valid UTF-8 ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path, "header", $"header must be a JSON object, found {doc.RootElement.ValueKind}");
            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new CheckpointFormatException(path, property.Name, "tensor is declared twice in the header");
                if (property.Name == "__metadata__")
                {
                    ParseMetadata(path, property.Value, metadata);
                    continue;
                }
                tensors.Add(ParseTensor(path, property.Name, property.Value, dataLength));
            }
            CheckRanges(path, tensors);
            return (tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList(), metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, "__metadata__", "must be an object of strings");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(path, $"__metadata__.{entry.Name}", $"must be a string, found {entry.Value.ValueKind}");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ParseTensor(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, name, "tensor entry must be an object with dtype, shape and data_offsets");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new CheckpointFormatException(path, $"{name}.dtype", "missing or not a string");
        string dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw new CheckpointFormatException(path, $"{name}.dtype", $"unknown dtype '{dtypeName}' (known: {SafetensorsDTypes.ValidNames})");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException(path, $"{name}.shape", "missing or not an array");
        var shape = new List<long>();
        long elements = 1;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new CheckpointFormatException(path, $"{name}.shape", $"dimensions must be non-negative integers, found {d.GetRawText()}");
            shape.Add(dim);
            try
            {
                elements = checked(elements * dim);
            }
            catch (OverflowException)
            {
                throw new CheckpointFormatException(path, $"{name}.shape", "shape has more elements than a 64-bit count can hold");
            }
        }
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new CheckpointFormatException(path, $"{name}.data_offsets", "missing or not a [begin, end] pair");
        long begin = ReadOffset(path, name, offsets[0]);
        long end = ReadOffset(path, name, offsets[1]);
        if (end < begin)
            throw new CheckpointFormatException(path, $"{name}.data_offsets", $"range [{begin}, {end}) is out of order (end before begin)");
        if (end > dataLength)
            throw new CheckpointFormatException(path, $"{name}.data_offsets",
                $"range [{begin}, {end}) is out of range: the data section has only {dataLength} bytes (file truncated?)");
        long expected;
        try
        {
            expected = checked(elements * dtype.Size());
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(path, $"{name}.shape", "byte count overflows a 64-bit integer");
        }
        if (end - begin != expected)
            throw new CheckpointFormatException(path, $"{name}.data_offsets",
                $"range holds {end - begin} bytes but shape [{string.Join(", ", shape)}] × {dtypeName} ({dtype.Size()} bytes) needs {expected}");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long ReadOffset(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new CheckpointFormatException(path, $"{name}.data_offsets", $"offsets must be non-negative integers, found {e.GetRawText()}");
        return v;
    }

    private static void CheckRanges(string path, List<SafetensorsTensorInfo> tensors)
    {
        var sorted = tensors.Where(t => t.ByteCount > 0).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var a = sorted[i - 1];
            var b = sorted[i];
            if (b.Begin < a.End)
                throw new CheckpointFormatException(path, $"{b.Name}.data_offsets",
                    $"range [{b.Begin}, {b.End}) overlaps tensor '{a.Name}' at [{a.Begin}, {a.End})");
        }
    }

    /// <summary>
    /// Converts <c>destination.Length</c> elements starting at element <paramref name="elementOffset"/> of tensor
    /// <paramref name="name"/> to float32 (integers and booleans by value, F16/BF16/F64 by widening or rounding).
    /// </summary>
    public void ReadSingle(string name, long elementOffset, Span<float> destination)
    {
        var info = Info(name);
        var bytes = Bytes(info, elementOffset, destination.Length);
        Convert(info.DType, bytes, destination);
    }

    /// <summary>The whole tensor as float32, flattened row-major.</summary>
    public float[] ReadSingle(string name)
    {
        var info = Info(name);
        var result = new float[CheckedCount(info)];
        ReadSingle(name, 0, result);
        return result;
    }

    /// <summary>The tensor as a matrix: the last dimension is the columns, the others are flattened into rows.</summary>
    public HostMatrix ReadMatrix(string name)
    {
        var info = Info(name);
        if (info.Shape.Count == 0) throw new CheckpointFormatException(Path, name, "expected a matrix, found a scalar");
        int cols = checked((int)info.Shape[^1]);
        int rows = cols == 0 ? 0 : checked((int)(info.ElementCount / cols));
        var m = new HostMatrix(rows, cols);
        ReadSingle(name, 0, m.Span);
        return m;
    }

    /// <summary>The whole tensor as float64 (F64 exactly; others widened).</summary>
    public double[] ReadDouble(string name)
    {
        var info = Info(name);
        var result = new double[CheckedCount(info)];
        if (info.DType == SafetensorsDType.F64)
        {
            MemoryMarshal.Cast<byte, double>(Bytes(info, 0, result.Length)).CopyTo(result);
            return result;
        }
        var tmp = ReadSingle(name);
        for (int i = 0; i < tmp.Length; i++) result[i] = tmp[i];
        return result;
    }

    /// <summary>The whole tensor as 64-bit integers (integer and boolean dtypes only).</summary>
    public long[] ReadInt64(string name)
    {
        var info = Info(name);
        if (info.DType.IsFloat()) throw new CheckpointFormatException(Path, name, $"expected an integer tensor, found {info.DType}");
        var result = new long[CheckedCount(info)];
        var b = Bytes(info, 0, result.Length);
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = info.DType switch
            {
                SafetensorsDType.BOOL or SafetensorsDType.U8 => b[i],
                SafetensorsDType.I8 => (sbyte)b[i],
                SafetensorsDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(b[(2 * i)..]),
                SafetensorsDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..]),
                SafetensorsDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b[(4 * i)..]),
                SafetensorsDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(b[(4 * i)..]),
                SafetensorsDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(b[(8 * i)..]),
                _ => (long)BinaryPrimitives.ReadUInt64LittleEndian(b[(8 * i)..]),
            };
        }
        return result;
    }

    private int CheckedCount(SafetensorsTensorInfo info) =>
        info.ElementCount <= Array.MaxLength
            ? (int)info.ElementCount
            : throw new CheckpointFormatException(Path, info.Name, $"{info.ElementCount} elements do not fit one array; read it in slices");

    private ReadOnlySpan<byte> Bytes(SafetensorsTensorInfo info, long elementOffset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (elementOffset < 0 || count < 0 || elementOffset + count > info.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(elementOffset),
                $"Elements [{elementOffset}, {elementOffset + count}) outside tensor '{info.Name}' of {info.ElementCount}.");
        long byteCount = (long)count * info.DType.Size();
        if (byteCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(count), "Read at most 2 GB at a time.");
        if (byteCount == 0) return ReadOnlySpan<byte>.Empty;
        EnsureMapped();
        DataBytesRead += byteCount;
        return new ReadOnlySpan<byte>(_base + DataStart + info.Begin + elementOffset * info.DType.Size(), (int)byteCount);
    }

    private void EnsureMapped()
    {
        if (_map is not null) return;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine.");
        var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        if (stream.Length != FileLength)
        {
            stream.Dispose();
            throw new CheckpointFormatException(Path, null, $"file changed size while open ({FileLength} → {stream.Length} bytes)");
        }
        _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    private static void Convert(SafetensorsDType dtype, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                return;
            case SafetensorsDType.BF16:
                ReducedPrecision.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination, HalfKind.BF16);
                return;
            case SafetensorsDType.F16:
                ReducedPrecision.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination, HalfKind.F16);
                return;
            case SafetensorsDType.F64:
            {
                var d = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)d[i];
                return;
            }
        }
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = dtype switch
            {
                SafetensorsDType.BOOL => bytes[i] != 0 ? 1f : 0f,
                SafetensorsDType.U8 => bytes[i],
                SafetensorsDType.I8 => (sbyte)bytes[i],
                SafetensorsDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]),
                SafetensorsDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]),
                SafetensorsDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]),
                SafetensorsDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(bytes[(4 * i)..]),
                SafetensorsDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]),
                SafetensorsDType.U64 => BinaryPrimitives.ReadUInt64LittleEndian(bytes[(8 * i)..]),
                _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
            };
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _base = null;
    }
}
