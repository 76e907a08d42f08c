using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace SaeBench.Models.Files;

/// <summary>
/// Minimal NumPy <c>.npy</c> support (format versions 1–3): reads the header of a C-ordered little-endian array
/// (<c>&lt;f4</c>, <c>&lt;f2</c>, <c>&lt;f8</c>, <c>&lt;i4</c>, <c>&lt;i8</c>, <c>|u1</c>, <c>|b1</c>) and writes float32 / int32 / uint8
/// arrays. Data are read through <see cref="MappedFile"/>.
/// </summary>
internal static partial class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static TensorLayout ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        long length = stream.Length;
        var prefix = new byte[10];
        if (stream.ReadAtLeast(prefix, 10, throwOnEndOfStream: false) < 10)
            throw new InvalidDataException($"{path}: truncated .npy header ({length} bytes).");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a .npy file (magic bytes are not \\x93NUMPY).");
        int major = prefix[6];
        int headerLength, preamble;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
            preamble = 10;
        }
        else if (major is 2 or 3)
        {
            var extra = new byte[2];
            if (stream.ReadAtLeast(extra, 2, throwOnEndOfStream: false) < 2)
                throw new InvalidDataException($"{path}: truncated .npy header.");
            long len = BinaryPrimitives.ReadUInt32LittleEndian([prefix[8], prefix[9], extra[0], extra[1]]);
            if (len > 1 << 24) throw new InvalidDataException($"{path}: .npy header length {len} is implausible.");
            headerLength = (int)len;
            preamble = 12;
        }
        else
        {
            throw new InvalidDataException($"{path}: unsupported .npy format version {major}.{prefix[7]}.");
        }
        if (preamble + (long)headerLength > length)
            throw new InvalidDataException($"{path}: .npy header declares {headerLength} bytes but the file has only {length}.");
        var header = new byte[headerLength];
        if (stream.ReadAtLeast(header, headerLength, throwOnEndOfStream: false) < headerLength)
            throw new InvalidDataException($"{path}: truncated .npy header (declares {headerLength} bytes).");
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(header);

        var descr = DescrPattern().Match(text);
        if (!descr.Success) throw new InvalidDataException($"{path}: .npy header has no 'descr' field: {text.Trim()}");
        var type = descr.Groups[1].Value switch
        {
            "<f4" => ElementType.F32,
            "<f2" => ElementType.F16,
            "<f8" => ElementType.F64,
            "<i4" => ElementType.I32,
            "<i8" => ElementType.I64,
            "|u1" or "|b1" or "<u1" => ElementType.U8,
            var d => throw new InvalidDataException(
                $"{path}: field 'descr' is '{d}'; supported: '<f4', '<f2', '<f8', '<i4', '<i8', '|u1', '|b1' (little-endian)."),
        };
        var fortran = FortranPattern().Match(text);
        if (!fortran.Success) throw new InvalidDataException($"{path}: .npy header has no 'fortran_order' field.");
        if (fortran.Groups[1].Value == "True")
            throw new InvalidDataException($"{path}: field 'fortran_order' is True; save a C-ordered array (np.ascontiguousarray).");
        var shape = ShapePattern().Match(text);
        if (!shape.Success) throw new InvalidDataException($"{path}: .npy header has no 'shape' field.");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long v)
                ? v
                : throw new InvalidDataException($"{path}: field 'shape' has a bad dimension '{d}'."))
            .ToArray();
        var layout = new TensorLayout(path, Path.GetFileName(path), preamble + headerLength, type, dims);
        layout.CheckFits(length);
        if (layout.DataOffset + layout.ByteLength < length)
            throw new InvalidDataException(
                $"{path}: {length - layout.DataOffset - layout.ByteLength} trailing bytes after the {type} {layout.ShapeText} data the header declares.");
        return layout;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();

    /// <summary>The 64-byte-aligned version-1 header for a C-ordered array.</summary>
    public static byte[] Header(string descr, IReadOnlyList<long> shape)
    {
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        dict = dict.PadRight(dict.Length + padded - total) + "\n";
        var bytes = new byte[10 + dict.Length];
        Magic.CopyTo(bytes);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)dict.Length);
        Encoding.Latin1.GetBytes(dict).CopyTo(bytes, 10);
        return bytes;
    }

    public static void WriteFloats(string path, IReadOnlyList<long> shape, ReadOnlySpan<float> data) =>
        Write(path, "<f4", shape, MemoryMarshal.AsBytes(data));

    public static void WriteInts(string path, IReadOnlyList<long> shape, ReadOnlySpan<int> data) =>
        Write(path, "<i4", shape, MemoryMarshal.AsBytes(data));

    public static void WriteBytes(string path, IReadOnlyList<long> shape, ReadOnlySpan<byte> data) =>
        Write(path, "|u1", shape, data);

    private static void Write(string path, string descr, IReadOnlyList<long> shape, ReadOnlySpan<byte> data)
    {
        using var stream = File.Create(path);
        stream.Write(Header(descr, shape));
        stream.Write(data);
    }
}
