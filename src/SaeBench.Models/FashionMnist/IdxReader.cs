using System.Buffers.Binary;
using System.IO.Compression;

using SaeBench.Models.Common;

namespace SaeBench.Models.FashionMnist;

/// <summary>
/// Reads gzip-compressed IDX files (the MNIST format): a big-endian header — two zero bytes, a type code
/// (0x08 = unsigned byte), the number of dimensions, then each dimension as a 32-bit integer — followed by the data.
/// Every check names the file and what was wrong.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an unsigned-byte IDX file with one dimension (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Magic number of an unsigned-byte IDX file with three dimensions (images).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>An IDX file of unsigned bytes: its dimensions and its data.</summary>
    public sealed record IdxArray(int[] Dimensions, byte[] Data);

    /// <summary>
    /// Reads a gzip IDX file whose magic number must be <paramref name="expectedMagic"/>. The file is read once; when
    /// <paramref name="hash"/> is given, its name and bytes are added to it (as <see cref="ContentHasher.AddFile"/> does).
    /// </summary>
    public static IdxArray Read(string path, int expectedMagic, ContentHasher? hash = null)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            hash?.Add(Path.GetFileName(path)).Add(bytes);
            using var gzip = new GZipStream(new MemoryStream(bytes, writable: false), CompressionMode.Decompress);
            return Read(gzip, path, expectedMagic);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a valid gzip stream ({e.Message}).", e);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: file not found.", path, e);
        }
    }

    /// <summary>Reads an (already decompressed) IDX stream; <paramref name="name"/> is used in error messages.</summary>
    public static IdxArray Read(Stream stream, string name, int expectedMagic)
    {
        Span<byte> word = stackalloc byte[4];
        if (ReadFully(stream, word) < 4)
            throw new InvalidDataException($"{name}: truncated header (fewer than 4 bytes for the magic number).");
        int magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (magic != expectedMagic)
            throw new InvalidDataException(
                $"{name}: magic number is 0x{magic:X8}, expected 0x{expectedMagic:X8} (unsigned bytes, {expectedMagic & 0xFF} dimension(s)).");
        int rank = magic & 0xFF;
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            if (ReadFully(stream, word) < 4)
                throw new InvalidDataException($"{name}: truncated header (dimension {i} of {rank} missing).");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (dims[i] < 0) throw new InvalidDataException($"{name}: dimension {i} is negative ({dims[i]}).");
            total *= dims[i];
            if (total > Array.MaxLength) throw new InvalidDataException($"{name}: dimensions {string.Join('×', dims[..(i + 1)])} are too large.");
        }
        var data = new byte[total];
        int read = ReadFully(stream, data);
        if (read < total)
            throw new InvalidDataException(
                $"{name}: truncated data: header says {string.Join('×', dims)} = {total} bytes, file holds {read}.");
        if (stream.ReadByte() >= 0)
            throw new InvalidDataException($"{name}: trailing bytes after the {string.Join('×', dims)} data the header declares.");
        return new IdxArray(dims, data);
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
