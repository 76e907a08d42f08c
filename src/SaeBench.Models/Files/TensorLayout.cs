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

/// <summary>Where one dense, C-ordered, little-endian tensor lies in a file.</summary>
internal sealed record TensorLayout(string Path, string Name, long DataOffset, ElementType Type, long[] Shape)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteLength => Elements * Type.Size();

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

    public MappedFile(string path)
    {
        Length = new FileInfo(path).Length;
        Path = path;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
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
