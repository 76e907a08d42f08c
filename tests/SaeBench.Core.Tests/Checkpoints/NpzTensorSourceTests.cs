using System.Runtime.InteropServices;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Checkpoints.Numpy;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>The .npz/.npy reader: every header version, stored and deflated entries, dtypes, and refusals naming file and array.</summary>
public class NpzTensorSourceTests
{
    private static float[] ReadAll(ITensorSource source, string name)
    {
        Assert.True(source.TryDescribe(name, out var d), name);
        var values = new float[d.ElementCount];
        source.Read(name, 0, values);
        return values;
    }

    private static string Write(TempDirectory dir, params Npz.Entry[] entries)
    {
        string path = dir.File("params.npz");
        Npz.Write(path, entries);
        return path;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(2, false)]
    public void Arrays_of_every_header_version_stored_or_deflated_read_back(int version, bool deflate)
    {
        using var dir = new TempDirectory();
        var w = Npz.Ramp(12, -3f, 0.5f);
        var path = Write(dir, new Npz.Entry("W_enc.npy", Npz.Npy("<f4", [3, 4], MemoryMarshal.AsBytes(w.AsSpan()), version), deflate));
        using var npz = NpzTensorSource.Open(path);
        Assert.True(npz.TryDescribe("W_enc", out var d));
        Assert.Equal([3L, 4L], d.Shape);
        Assert.Equal("float32", d.DType);
        Assert.Equal(w, ReadAll(npz, "W_enc"));
        Assert.Equal(path, npz.File);
    }

    [Fact]
    public void Half_and_double_arrays_widen_or_narrow_to_float32()
    {
        using var dir = new TempDirectory();
        var halves = new[] { (Half)0.5f, (Half)(-2f), (Half)1024f };
        var doubles = new[] { 0.25, -1.5, 3.0 };
        var path = Write(dir,
            new Npz.Entry("h.npy", Npz.Npy("<f2", [3], MemoryMarshal.AsBytes(halves.AsSpan()))),
            new Npz.Entry("d.npy", Npz.Npy("<f8", [3], MemoryMarshal.AsBytes(doubles.AsSpan())), Deflate: true));
        using var npz = NpzTensorSource.Open(path);
        Assert.Equal([0.5f, -2f, 1024f], ReadAll(npz, "h"));
        Assert.Equal([0.25f, -1.5f, 3f], ReadAll(npz, "d"));
        Assert.True(npz.TryDescribe("d", out var d));
        Assert.Equal("float64", d.DType);
        Assert.Equal(8, d.ElementBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_at_any_offset_forwards_and_backwards(bool deflate)
    {
        using var dir = new TempDirectory();
        var values = Npz.Ramp(1000);
        var path = Write(dir, Npz.F32("x", values, 10, 100) with { Deflate = deflate }, Npz.F32("y", [7f], 1));
        using var npz = NpzTensorSource.Open(path);
        var chunk = new float[10];
        foreach (int offset in new[] { 500, 510, 20, 990, 0 })
        {
            npz.Read("x", offset, chunk);
            Assert.Equal(values.AsSpan(offset, 10).ToArray(), chunk);
            Assert.Equal([7f], ReadAll(npz, "y")); // interleaved reads of another array
        }
    }

    [Fact]
    public void Arrays_numpy_savez_wrote_load_to_the_values_it_wrote()
    {
        foreach (var file in new[] { "savez/params.npz", "savez_compressed/params.npz" })
        {
            using var npz = NpzTensorSource.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", file));
            Assert.Equal(["W_enc", "W_dec", "b_enc", "b_dec", "threshold"], npz.Arrays.Keys);
            var wEnc = ReadAll(npz, "W_enc");
            var wDec = ReadAll(npz, "W_dec");
            for (int i = 0; i < 4; i++)
            for (int j = 0; j < 6; j++)
            {
                Assert.Equal((6 * i + j - 11) / 8f, wEnc[i * 6 + j]);
                Assert.Equal((4 * j + i - 10) / 16f, wDec[j * 4 + i]);
            }
            Assert.Equal(Enumerable.Range(0, 6).Select(j => (j - 2) / 4f), ReadAll(npz, "b_enc"));
            Assert.Equal(Enumerable.Range(0, 4).Select(i => (2 * i - 3) / 4f), ReadAll(npz, "b_dec"));
            Assert.Equal(Enumerable.Range(0, 6).Select(j => j / 4f), ReadAll(npz, "threshold"));
        }
        using var compressed = NpzTensorSource.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", "savez_compressed/params.npz"));
        Assert.Equal("float16", compressed.Arrays["b_dec"].DType);
        Assert.Equal("float64", compressed.Arrays["threshold"].DType);
    }

    public static TheoryData<string, byte[], string> BadArrays()
    {
        var four = new byte[16];
        return new()
        {
            { "big-endian", Npz.Npy(">f4", [4], four), "big-endian" },
            { "fortran order", Npz.Npy("<f4", [2, 2], four, fortran: true), "fortran_order is True" },
            { "object array", Npz.Npy("|O", [4], four), "object arrays are refused" },
            { "integer dtype", Npz.Npy("<i4", [4], four), "not supported" },
            { "truncated data", Npz.Npy("<f4", [5], four), "truncated" },
            { "trailing data", Npz.Npy("<f4", [3], four), "bytes after" },
            { "structured dtype", Npz.Npy("", [4], four, dict: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }"), "structured" },
            { "missing shape", Npz.Npy("", [4], four, dict: "{'descr': '<f4', 'fortran_order': False, }"), "expected exactly descr, fortran_order and shape" },
            { "extra key", Npz.Npy("", [4], four, dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1, }"), "unexpected" },
            { "bad dimension", Npz.Npy("", [4], four, dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }"), "bad dimension" },
            { "unterminated dict", Npz.Npy("", [4], four, dict: "{'descr': '<f4', 'fortran_order': False"), "malformed" },
            { "bad magic", [.. "NOTNUMPY"u8, 1, 0, 0, 0], "not a .npy array" },
            { "version 4", [0x93, .. "NUMPY"u8, 4, 0, 0, 0, 0, 0], "version 4.0" },
            { "header shorter than declared", [0x93, .. "NUMPY"u8, 1, 0, 100, 0, .. "{'descr'"u8], "truncated .npy header" },
        };
    }

    [Theory]
    [MemberData(nameof(BadArrays))]
    public void Bad_arrays_are_refused_naming_the_file_and_the_array(string what, byte[] npy, string message)
    {
        using var dir = new TempDirectory();
        var path = Write(dir, Npz.F32("ok", [1f], 1), new Npz.Entry("W_enc.npy", npy, Deflate: what.Contains("truncated")));
        var e = Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path));
        Assert.Equal(path, e.File);
        Assert.Equal("W_enc", e.Field);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Limits_on_entries_sizes_and_expansion_are_enforced_before_reading()
    {
        using var dir = new TempDirectory();
        var zeros = new float[4096];
        var path = Write(dir, Npz.F32("a", zeros, 4096) with { Deflate = true }, Npz.F32("b", [1f], 1));
        Assert.Contains("more than the 1 allowed", Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path, new NpzLimits(MaxEntries: 1))).Message);
        Assert.Contains("absurd size", Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path, new NpzLimits(MaxExpansion: 10))).Message);
        var big = Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path, new NpzLimits(MaxArrayBytes: 1000, MaxHeaderBytes: 20_000)));
        Assert.Equal("a", big.Field);
        Assert.Contains("more than the 10000 allowed", Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path, new NpzLimits(MaxTotalBytes: 10_000))).Message);
        Assert.Contains("more than the 8 allowed", Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path, new NpzLimits(MaxHeaderBytes: 8))).Message);
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_refused()
    {
        using var dir = new TempDirectory();
        string path = dir.File("params.npz");
        File.WriteAllBytes(path, Npz.Npy("<f4", [1], new byte[4]));
        var e = Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path));
        Assert.Contains("not a NumPy .npz archive", e.Message);
        Assert.Equal(path, e.File);
    }

    /// <summary>ZipArchive reads its central directory lazily: an end record counting one entry more than the directory
    /// holds throws from <c>Entries</c>, outside the guarded constructor (the torch zip reader had the same hole).</summary>
    [Fact]
    public void A_corrupted_zip_directory_is_refused_naming_the_file()
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", "savez", "params.npz"));
        int end = bytes.Length - 22;
        while (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end)) != 0x06054b50) end--;
        foreach (int field in new[] { 8, 10 }) // entries on this disk, entries in all
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(end + field),
                (ushort)(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(end + field)) + 1));
        string path = dir.File("params.npz");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => NpzTensorSource.Open(path));
        Assert.Equal(path, e.File);
        Assert.Contains("the zip is corrupt", e.Message);
    }
}
