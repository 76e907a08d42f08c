using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Checkpoints.Torch;

/// <summary>Size limits applied to a torch zip checkpoint before anything is allocated.</summary>
public sealed record TorchZipLimits(long MaxPickleBytes = 64L << 20, long MaxStorageBytes = int.MaxValue, int MaxEntries = 100_000, long MaxTotalBytes = 64L << 30);

/// <summary>
/// A PyTorch zip checkpoint (<c>torch.save</c> of a state dict): <c>&lt;name&gt;/data.pkl</c> is run through the
/// <see cref="RestrictedUnpickler"/>, and each tensor's storage is read from <c>&lt;name&gt;/data/&lt;key&gt;</c> when first
/// needed. Entry sizes are checked against what the pickle declares and against <see cref="TorchZipLimits"/>.
/// </summary>
public sealed class TorchZipCheckpoint : ITensorSource, IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly TorchZipLimits _limits;
    // The storage last read: tensors are read one after another (in chunks), so one is enough, and memory stays
    // bounded by the largest storage rather than growing to the whole checkpoint.
    private (string Key, byte[] Bytes)? _lastStorage;

    private TorchZipCheckpoint(string file, ZipArchive zip, string prefix, TorchZipLimits limits,
        IReadOnlyDictionary<string, TorchTensorRef> tensors)
    {
        File = file;
        _zip = zip;
        _prefix = prefix;
        _limits = limits;
        Tensors = tensors;
    }

    public string File { get; }

    /// <summary>The state dict's tensors by name, in file order.</summary>
    public IReadOnlyDictionary<string, TorchTensorRef> Tensors { get; }

    public static TorchZipCheckpoint Open(string path, TorchZipLimits? limits = null)
    {
        limits ??= new TorchZipLimits();
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
            throw new CheckpointFormatException(path, null,
                $"not a PyTorch zip checkpoint ({e.Message}); legacy (pre-1.6) torch.save files are not supported — re-save with torch.save(..., _use_new_zipfile_serialization=True)");
        }
        try
        {
            return Read(path, zip, stream.Length, limits);
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


    private static TorchZipCheckpoint Read(string path, ZipArchive zip, long fileLength, TorchZipLimits limits)
    {
        if (zip.Entries.Count > limits.MaxEntries)
            throw new CheckpointFormatException(path, null, $"zip holds {zip.Entries.Count} entries, more than the {limits.MaxEntries} allowed");
        long total = 0;
        foreach (var e in zip.Entries)
        {
            if (e.Length < 0 || e.CompressedLength < 0 || e.CompressedLength > fileLength)
                throw new CheckpointFormatException(path, $"zip entry '{e.FullName}'",
                    $"declares {e.CompressedLength} compressed bytes in a file of {fileLength}: the zip directory is corrupt or hostile");
            if (e.Length > limits.MaxStorageBytes || e.Length > Math.Max(e.CompressedLength, 1) * 1024L)
                throw new CheckpointFormatException(path, $"zip entry '{e.FullName}'",
                    $"declares an absurd size of {e.Length} bytes ({e.CompressedLength} compressed); refusing to read it");
            total += e.Length;
        }
        if (total > limits.MaxTotalBytes)
            throw new CheckpointFormatException(path, null, $"zip entries declare {total} bytes in all, more than the {limits.MaxTotalBytes} allowed");

        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)
                                             && e.FullName.Count(c => c == '/') <= 1).ToList();
        if (pickles.Count != 1)
            throw new CheckpointFormatException(path, "data.pkl",
                pickles.Count == 0 ? "the zip has no data.pkl: not a torch.save checkpoint" : "the zip has more than one data.pkl");
        var pklEntry = pickles[0];
        string prefix = pklEntry.FullName[..^"data.pkl".Length];
        if (pklEntry.Length > limits.MaxPickleBytes)
            throw new CheckpointFormatException(path, $"zip entry '{pklEntry.FullName}'",
                $"pickle declares {pklEntry.Length} bytes, more than the {limits.MaxPickleBytes} allowed");
        var pickle = ReadEntry(path, pklEntry, pklEntry.Length);

        var stateDict = RestrictedUnpickler.LoadStateDict(pickle, path, pklEntry.FullName);
        // Non-tensor entries of the state dict (numbers, strings) carry nothing the loaders use.
        var tensors = new Dictionary<string, TorchTensorRef>(StringComparer.Ordinal);
        foreach (var (name, value) in stateDict)
            if (value is TorchTensorRef t) tensors[name] = t;

        var checkpoint = new TorchZipCheckpoint(path, zip, prefix, limits, tensors);
        foreach (var (name, t) in tensors) checkpoint.CheckStorageEntry(name, t.Storage);
        return checkpoint;
    }

    private ZipArchiveEntry CheckStorageEntry(string tensor, TorchStorageRef storage)
    {
        string entryName = _prefix + "data/" + storage.Key;
        var entry = _zip.GetEntry(entryName)
                    ?? throw new CheckpointFormatException(File, tensor, $"its storage '{entryName}' is missing from the zip");
        long needed;
        try
        {
            needed = checked(storage.ElementCount * storage.ElementSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(File, tensor, $"storage of {storage.ElementCount} elements overflows");
        }
        if (needed > _limits.MaxStorageBytes)
            throw new CheckpointFormatException(File, tensor, $"storage '{entryName}' declares {needed} bytes, more than the {_limits.MaxStorageBytes} allowed");
        if (entry.Length != needed)
            throw new CheckpointFormatException(File, tensor,
                $"zip entry '{entryName}' holds {entry.Length} bytes but the pickle declares {storage.ElementCount} × {storage.StorageType} = {needed} bytes");
        return entry;
    }

    /// <summary>Reads exactly <paramref name="declared"/> bytes and refuses an entry that holds more or fewer.</summary>
    private static byte[] ReadEntry(string path, ZipArchiveEntry entry, long declared)
    {
        var buffer = new byte[declared];
        try
        {
            using var s = entry.Open();
            int read = 0;
            while (read < buffer.Length)
            {
                int n = s.Read(buffer, read, buffer.Length - read);
                if (n == 0) break;
                read += n;
            }
            if (read != buffer.Length || s.ReadByte() != -1)
                throw new CheckpointFormatException(path, $"zip entry '{entry.FullName}'", $"holds a different number of bytes than the {declared} its header declares");
        }
        catch (Exception e) when (ZipArchives.IsCorrupt(e))
        {
            throw new CheckpointFormatException(path, $"zip entry '{entry.FullName}'", $"cannot be read ({e.Message})", e);
        }
        return buffer;
    }

    private byte[] Storage(string tensor, TorchStorageRef storage)
    {
        if (_lastStorage is { } last && last.Key == storage.Key) return last.Bytes;
        _lastStorage = null; // let the previous storage go before reading the next
        var entry = CheckStorageEntry(tensor, storage);
        var bytes = ReadEntry(File, entry, entry.Length);
        _lastStorage = (storage.Key, bytes);
        return bytes;
    }

    public bool TryDescribe(string name, out TensorDescription description)
    {
        if (Tensors.TryGetValue(name, out var t))
        {
            description = new TensorDescription(t.Size, TorchStorageTypes.DType(t.Storage.StorageType));
            return true;
        }
        description = null!;
        return false;
    }

    public void Read(string name, long elementOffset, Span<float> destination)
    {
        var t = Tensor(name);
        if (elementOffset < 0 || elementOffset + destination.Length > t.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(elementOffset), $"Elements [{elementOffset}, {elementOffset + destination.Length}) outside '{name}' of {t.ElementCount}.");
        var bytes = Storage(name, t.Storage);
        string type = t.Storage.StorageType;
        int size = t.Storage.ElementSize;
        if (t.IsContiguous)
        {
            var slice = bytes.AsSpan(checked((int)((t.StorageOffset + elementOffset) * size)), destination.Length * size);
            Convert(type, slice, destination);
            return;
        }
        Span<float> one = stackalloc float[1];
        for (int i = 0; i < destination.Length; i++)
        {
            long flat = elementOffset + i, index = t.StorageOffset;
            for (int d = t.Size.Length - 1; d >= 0; d--)
            {
                index += flat % t.Size[d] * t.Stride[d];
                flat /= t.Size[d];
            }
            Convert(type, bytes.AsSpan(checked((int)(index * size)), size), one);
            destination[i] = one[0];
        }
    }

    /// <summary>The whole tensor as float32.</summary>
    public float[] ReadSingle(string name)
    {
        var result = new float[checked((int)Tensor(name).ElementCount)];
        Read(name, 0, result);
        return result;
    }

    private TorchTensorRef Tensor(string name) =>
        Tensors.TryGetValue(name, out var t)
            ? t
            : throw new CheckpointFormatException(File, name, $"required tensor is missing (present: {string.Join(", ", Tensors.Keys)})");

    private static void Convert(string type, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (type)
        {
            case "FloatStorage": MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination); return;
            case "HalfStorage": ReducedPrecision.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination, HalfKind.F16); return;
            case "BFloat16Storage": ReducedPrecision.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination, HalfKind.BF16); return;
        }
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = type switch
            {
                "DoubleStorage" => (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]),
                "LongStorage" => BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]),
                "IntStorage" => BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]),
                "ShortStorage" => BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]),
                "CharStorage" => (sbyte)bytes[i],
                "ByteStorage" => bytes[i],
                "BoolStorage" => bytes[i] != 0 ? 1f : 0f,
                _ => throw new InvalidOperationException($"Unknown storage type {type}."),
            };
        }
    }

    public void Dispose() => _zip.Dispose();
}
