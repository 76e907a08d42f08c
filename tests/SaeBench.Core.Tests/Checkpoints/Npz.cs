using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>
/// Writes <c>.npy</c> arrays with hand-made headers and zips them into <c>.npz</c> files (stored or deflated), the way
/// <c>numpy.savez</c> lays them out, so the reader is tested on headers of every version and on broken ones.
/// </summary>
public static class Npz
{
    /// <summary>One zip entry: an array (or any bytes) and whether it is deflated.</summary>
    public sealed record Entry(string Name, byte[] Bytes, bool Deflate = false);

    /// <summary>A float32 array entry with a version-1.0 header.</summary>
    public static Entry F32(string name, float[] values, params long[] shape) => new(name + ".npy", Npy("<f4", shape, MemoryMarshal.AsBytes(values.AsSpan())));

    /// <summary>
    /// An <c>.npy</c> file: magic, version, header length (2 bytes in 1.0, 4 after), the dict padded with spaces to a
    /// multiple of 64 and ended by a newline, then <paramref name="data"/>. <paramref name="dict"/> replaces the dict text.
    /// </summary>
    public static byte[] Npy(string descr, long[] shape, ReadOnlySpan<byte> data, int version = 1, bool fortran = false, string? dict = null)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        dict ??= $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({dims}), }}";
        int preamble = version == 1 ? 10 : 12;
        int total = preamble + Encoding.UTF8.GetByteCount(dict) + 1;
        string header = dict + new string(' ', (64 - total % 64) % 64) + "\n";
        var headerBytes = (version == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(header);
        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0]);
        Span<byte> length = stackalloc byte[4];
        if (version == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)headerBytes.Length);
            ms.Write(length[..2]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)headerBytes.Length);
            ms.Write(length);
        }
        ms.Write(headerBytes);
        ms.Write(data);
        return ms.ToArray();
    }

    public static void Write(string path, params Entry[] entries)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var e in entries)
        {
            var entry = zip.CreateEntry(e.Name, e.Deflate ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var s = entry.Open();
            s.Write(e.Bytes);
        }
    }

    /// <summary>Gemma Scope's five arrays, float32, from the given values (shapes from d_in and d_sae).</summary>
    public static Entry[] GemmaParams(int dIn, int dSae, float[] wEnc, float[] wDec, float[] bEnc, float[] bDec, float[] threshold, bool deflate = false) =>
    [
        F32("W_enc", wEnc, dIn, dSae) with { Deflate = deflate },
        F32("W_dec", wDec, dSae, dIn) with { Deflate = deflate },
        F32("b_enc", bEnc, dSae) with { Deflate = deflate },
        F32("b_dec", bDec, dIn) with { Deflate = deflate },
        F32("threshold", threshold, dSae) with { Deflate = deflate },
    ];

    /// <summary>Counting values <c>start, start + step, …</c>.</summary>
    public static float[] Ramp(int n, float start = 0f, float step = 1f) => Enumerable.Range(0, n).Select(i => start + step * i).ToArray();
}
