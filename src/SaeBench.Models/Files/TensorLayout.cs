using System.IO.MemoryMappedFiles;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Files;

/// <summary>Element types the activation-file readers accept.</summary>
internal enum ElementType
{
    F32,
    F16,
    BF16,
    F64,
    I32,
    I64,
    U8,
}

internal static class ElementTypes
{
    public static int Size(this ElementType t) => t switch
    {
        ElementType.F64 or ElementType.I64 => 8,
        ElementType.F32 or ElementType.I32 => 4,
        ElementType.F16 or ElementType.BF16 => 2,
        _ => 1,
    };

    public static bool IsFloat(this ElementType t) => t is ElementType.F32 or ElementType.F16 or ElementType.BF16 or ElementType.F64;
}

/// <summary>
/// Where one dense, C-ordered, little-endian tensor lies in a file. The element and byte counts are computed with
/// overflow checks when the layout is made: a shape whose size overflows 64 bits is refused (<see cref="InvalidDataException"/>)
/// instead of wrapping to a small number that fits the file.
/// </summary>
internal sealed record TensorLayout
{
    public TensorLayout(string path, string name, long dataOffset, ElementType type, long[] shape)
    {
        Path = path;
        Name = name;
        DataOffset = dataOffset;
        Type = type;
        Shape = shape;
        if (shape.Any(d => d < 0))
            throw new InvalidDataException($"{path}: field 'shape' of '{name}' is {ShapeText}; dimensions cannot be negative.");
        try
        {
            Elements = shape.Aggregate(1L, (a, b) => checked(a * b));
            ByteLength = checked(Elements * type.Size());
            _ = checked(dataOffset + ByteLength);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{path}: field 'shape' of '{name}' is {ShapeText}: its size overflows a 64-bit count; the header is corrupt.");
        }
    }

    public string Path { get; }
    public string Name { get; }
    public long DataOffset { get; }
    public ElementType Type { get; }
    public long[] Shape { get; }

    public long Elements { get; }

    public long ByteLength { get; }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>Throws when the file is shorter than the tensor the header declares.</summary>
    public void CheckFits(long fileLength)
    {
        if (DataOffset + ByteLength > fileLength)
            throw new InvalidDataException(
                $"{Path}: tensor '{Name}' {Type} {ShapeText} needs {ByteLength} bytes from offset {DataOffset}, " +
                $"but the file has only {Math.Max(0, fileLength - DataOffset)} (truncated?).");
    }
}

/// <summary>A read-only memory map of a file, from which tensor elements are read (and converted to float) by range.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    /// <summary>Maps <paramref name="path"/>; a symbolic link (Hugging Face's cache, DVC and git-annex store files that way) is
    /// followed, and the length is the target's, taken from the open file rather than from the link.</summary>
    public MappedFile(string path)
    {
        Path = path;
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        Length = stream.Length;
        if (Length == 0)
        {
            stream.Dispose();
            throw new InvalidDataException($"{path}: the file is empty.");
        }
        _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += _view.PointerOffset;
    }

    public string Path { get; }
    public long Length { get; }

    /// <summary>Elements [first, first + destination.Length) of <paramref name="tensor"/>, as float32.</summary>
    public void ReadFloats(TensorLayout tensor, long first, Span<float> destination)
    {
        Check(tensor, first, destination.Length);
        byte* p = _pointer + tensor.DataOffset + first * tensor.Type.Size();
        int n = destination.Length;
        switch (tensor.Type)
        {
            case ElementType.F32:
                new ReadOnlySpan<float>(p, n).CopyTo(destination);
                break;
            case ElementType.F16:
                ReducedPrecision.Widen(new ReadOnlySpan<ushort>(p, n), destination, HalfKind.F16);
                break;
            case ElementType.BF16:
                ReducedPrecision.Widen(new ReadOnlySpan<ushort>(p, n), destination, HalfKind.BF16);
                break;
            case ElementType.F64:
                var doubles = new ReadOnlySpan<double>(p, n);
                for (int i = 0; i < n; i++) destination[i] = (float)doubles[i];
                break;
            default:
                throw new InvalidDataException($"{Path}: tensor '{tensor.Name}' is {tensor.Type}, not a floating-point type.");
        }
    }

    /// <summary>Elements of an integer or byte tensor as 64-bit integers.</summary>
    public void ReadIntegers(TensorLayout tensor, long first, Span<long> destination)
    {
        Check(tensor, first, destination.Length);
        byte* p = _pointer + tensor.DataOffset + first * tensor.Type.Size();
        int n = destination.Length;
        switch (tensor.Type)
        {
            case ElementType.I32:
                var ints = new ReadOnlySpan<int>(p, n);
                for (int i = 0; i < n; i++) destination[i] = ints[i];
                break;
            case ElementType.I64:
                new ReadOnlySpan<long>(p, n).CopyTo(destination);
                break;
            case ElementType.U8:
                for (int i = 0; i < n; i++) destination[i] = p[i];
                break;
            default:
                throw new InvalidDataException($"{Path}: tensor '{tensor.Name}' is {tensor.Type}, not an integer type.");
        }
    }

    private void Check(TensorLayout tensor, long first, int count)
    {
        if (first < 0 || first + count > tensor.Elements)
            throw new ArgumentOutOfRangeException(nameof(first), $"Elements [{first}, {first + count}) outside tensor '{tensor.Name}' of {tensor.Elements}.");
        tensor.CheckFits(Length);
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointer = null;
        }
        _view.Dispose();
        _map.Dispose();
    }
}
