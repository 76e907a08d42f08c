using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Checkpoints.Numpy;

/// <summary>Size limits applied to a <c>.npz</c> archive before any array is read.</summary>
/// <param name="MaxEntries">Zip entries allowed.</param>
/// <param name="MaxHeaderBytes">Largest <c>.npy</c> header allowed (NumPy itself stops at 10 000 bytes by default).</param>
/// <param name="MaxArrayBytes">Largest single array (data bytes).</param>
/// <param name="MaxTotalBytes">All entries together, uncompressed.</param>
/// <param name="MaxExpansion">Uncompressed ÷ compressed size allowed per entry. Deflate cannot exceed about 1032 : 1,
/// so an entry declaring more is lying about its size.</param>
public sealed record NpzLimits(int MaxEntries = 10_000, int MaxHeaderBytes = 1 << 16, long MaxArrayBytes = 64L << 30, long MaxTotalBytes = 64L << 30,
    int MaxExpansion = 1040);

/// <summary>
/// A NumPy <c>.npz</c> archive (<c>numpy.savez</c>, stored, or <c>numpy.savez_compressed</c>, deflated) as an
/// <see cref="ITensorSource"/>: each <c>&lt;name&gt;.npy</c> entry is the array <c>name</c>. Opening reads the zip directory
/// and every array's header and checks them against <see cref="NpzLimits"/> and against the entry sizes; data are
/// streamed from the entry when read (arrays larger than 2 GB are fine), converted to float32. Entries that are not
/// <c>.npy</c> files are ignored. Nothing in the file is executed: object arrays are refused.
/// </summary>
public sealed class NpzTensorSource : ITensorSource, IDisposable
{
    private const int ScratchBytes = 1 << 20;

    private readonly ZipArchive _zip;
    private readonly Dictionary<string, (ZipArchiveEntry Entry, NpyHeader Header)> _arrays;
    private byte[]? _scratch;
    private (string Name, Stream Stream, long Position)? _cursor;

    private NpzTensorSource(string file, ZipArchive zip, Dictionary<string, (ZipArchiveEntry, NpyHeader)> arrays)
    {
        File = file;
        _zip = zip;
        _arrays = arrays;
    }

    public string File { get; }

    /// <summary>The arrays by name, in file order, with their headers.</summary>
    public IReadOnlyDictionary<string, NpyHeader> Arrays => _arrays.ToDictionary(p => p.Key, p => p.Value.Header, StringComparer.Ordinal);

    public static NpzTensorSource Open(string path, NpzLimits? limits = null)
    {
        limits ??= new NpzLimits();
        if (!System.IO.File.Exists(path)) throw new CheckpointFormatException(path, null, "file does not exist");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            stream.Dispose();
            throw new CheckpointFormatException(path, null, $"not a NumPy .npz archive ({e.Message})");
        }
        try
        {
            return new NpzTensorSource(path, zip, ReadIndex(path, zip, stream.Length, limits));
        }
        catch (Exception e) when (ZipArchives.IsCorrupt(e))
        {
            zip.Dispose();
            throw new CheckpointFormatException(path, null, $"the zip is corrupt ({e.Message})", e);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    private static Dictionary<string, (ZipArchiveEntry, NpyHeader)> ReadIndex(string path, ZipArchive zip, long fileLength, NpzLimits limits)
    {
        if (zip.Entries.Count > limits.MaxEntries)
            throw new CheckpointFormatException(path, null, $"archive holds {zip.Entries.Count} entries, more than the {limits.MaxEntries} allowed");
        long total = 0;
        foreach (var e in zip.Entries)
        {
            if (e.Length < 0 || e.CompressedLength < 0 || e.CompressedLength > fileLength)
                throw new CheckpointFormatException(path, $"zip entry '{e.FullName}'",
                    $"declares {e.CompressedLength} compressed bytes in a file of {fileLength}: the zip directory is corrupt or hostile");
            if (e.Length > limits.MaxArrayBytes + limits.MaxHeaderBytes + 16 || e.Length > Math.Max(e.CompressedLength, 1) * limits.MaxExpansion)
                throw new CheckpointFormatException(path, $"zip entry '{e.FullName}'",
                    $"declares an absurd size of {e.Length} bytes ({e.CompressedLength} compressed); refusing to read it");
            total += e.Length;
        }
        if (total > limits.MaxTotalBytes)
            throw new CheckpointFormatException(path, null, $"archive entries declare {total} bytes in all, more than the {limits.MaxTotalBytes} allowed");

        var arrays = new Dictionary<string, (ZipArchiveEntry, NpyHeader)>(StringComparer.Ordinal);
        foreach (var e in zip.Entries)
        {
            if (!e.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
            string name = e.FullName[..^4];
            NpyHeader header;
            try
            {
                using var s = e.Open();
                header = NpyHeader.Read(s, path, name, limits.MaxHeaderBytes);
            }
            catch (Exception x) when (ZipArchives.IsCorrupt(x))
            {
                throw new CheckpointFormatException(path, name, $"zip entry '{e.FullName}' cannot be read ({x.Message})");
            }
            if (header.DataBytes > limits.MaxArrayBytes)
                throw new CheckpointFormatException(path, name, $"array of {header.DataBytes} bytes is larger than the {limits.MaxArrayBytes} allowed");
            long expected = header.DataOffset + header.DataBytes;
            if (e.Length < expected)
                throw new CheckpointFormatException(path, name,
                    $"truncated: the header declares {header.DType} ({string.Join(", ", header.Shape)}) = {header.DataBytes} bytes of data, but '{e.FullName}' holds only {e.Length - header.DataOffset}");
            if (e.Length > expected)
                throw new CheckpointFormatException(path, name,
                    $"'{e.FullName}' holds {e.Length - expected} bytes after the {header.DataBytes} bytes of data its header declares");
            if (!arrays.TryAdd(name, (e, header)))
                throw new CheckpointFormatException(path, name, $"the archive holds '{e.FullName}' twice");
        }
        return arrays;
    }

    public bool Contains(string name) => _arrays.ContainsKey(name);

    public bool TryDescribe(string name, out TensorDescription description)
    {
        if (_arrays.TryGetValue(name, out var a))
        {
            description = new TensorDescription(a.Header.Shape, a.Header.DType);
            return true;
        }
        description = null!;
        return false;
    }

    public void Read(string name, long elementOffset, Span<float> destination)
    {
        if (!_arrays.TryGetValue(name, out var a))
            throw new CheckpointFormatException(File, name, $"required array is missing (present: {string.Join(", ", _arrays.Keys)})");
        var header = a.Header;
        if (elementOffset < 0 || elementOffset + destination.Length > header.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(elementOffset), $"Elements [{elementOffset}, {elementOffset + destination.Length}) outside '{name}' of {header.ElementCount}.");
        int size = header.ItemSize;
        var stream = Seek(name, a.Entry, header.DataOffset + elementOffset * size);
        _scratch ??= new byte[ScratchBytes];
        int perChunk = _scratch.Length / size;
        try
        {
            for (int done = 0; done < destination.Length;)
            {
                int n = Math.Min(perChunk, destination.Length - done);
                int bytes = n * size;
                if (stream.ReadAtLeast(_scratch.AsSpan(0, bytes), bytes, throwOnEndOfStream: false) < bytes)
                    throw new CheckpointFormatException(File, name, $"zip entry '{a.Entry.FullName}' ends before the data its header declares");
                Advance(bytes);
                Convert(header.Descr, _scratch.AsSpan(0, bytes), destination.Slice(done, n));
                done += n;
            }
        }
        catch (Exception e) when (ZipArchives.IsCorrupt(e))
        {
            DropCursor();
            throw new CheckpointFormatException(File, name, $"zip entry '{a.Entry.FullName}' cannot be read ({e.Message})");
        }
    }

    /// <summary>The entry's stream positioned at <paramref name="bytePosition"/>: the open one moved forward (or seeked), else a new one.</summary>
    private Stream Seek(string name, ZipArchiveEntry entry, long bytePosition)
    {
        if (_cursor is not { } c || c.Name != name || (c.Position > bytePosition && !c.Stream.CanSeek))
        {
            DropCursor();
            try
            {
                c = (name, entry.Open(), 0);
            }
            catch (Exception e) when (ZipArchives.IsCorrupt(e))
            {
                throw new CheckpointFormatException(File, name, $"zip entry '{entry.FullName}' cannot be read ({e.Message})");
            }
            _cursor = c;
        }
        if (c.Position == bytePosition) return c.Stream;
        if (c.Stream.CanSeek)
        {
            c.Stream.Seek(bytePosition, SeekOrigin.Begin);
        }
        else
        {
            _scratch ??= new byte[ScratchBytes];
            for (long skip = bytePosition - c.Position; skip > 0;)
            {
                int n = c.Stream.Read(_scratch, 0, (int)Math.Min(skip, _scratch.Length));
                if (n == 0) throw new CheckpointFormatException(File, name, $"zip entry '{entry.FullName}' ends before the data its header declares");
                skip -= n;
            }
        }
        _cursor = c with { Position = bytePosition };
        return c.Stream;
    }

    private void Advance(int bytes)
    {
        if (_cursor is { } c) _cursor = c with { Position = c.Position + bytes };
    }

    private void DropCursor()
    {
        _cursor?.Stream.Dispose();
        _cursor = null;
    }

    private static void Convert(string descr, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (descr)
        {
            case "<f4":
                if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                else for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                return;
            case "<f2":
                ReducedPrecision.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination, HalfKind.F16);
                return;
            case "<f8":
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                return;
            default:
                throw new InvalidOperationException($"Unknown dtype {descr}.");
        }
    }

    public void Dispose()
    {
        DropCursor();
        _zip.Dispose();
    }
}
