using SaeBench.TestKit;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Checkpoints.Torch;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>The restricted unpickler and the torch zip reader refuse anything a state dict does not need.</summary>
public class TorchCheckpointTests
{
    private static string Zip(TempDirectory dir, byte[] pickle, params (string Name, byte[] Bytes)[] storages)
    {
        var path = dir.File("ae.pt");
        using var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
        Add("archive/data.pkl", pickle);
        foreach (var (name, bytes) in storages) Add("archive/data/" + name, bytes);
        Add("archive/version", "3\n"u8.ToArray());
        return path;
    }

    private static byte[] P(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>{'w': tensor of FloatStorage '0' with <paramref name="numel"/> elements, shape (rows, cols)} in protocol 2.</summary>
    private static byte[] StateDict(int numel, int rows, int cols) => P(
        "\u0080\u0002ccollections\nOrderedDict\nq\u0000)Rq\u0001(X\u0001\u0000\u0000\u0000w" +
        "ctorch._utils\n_rebuild_tensor_v2\nq\u0002((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpu" +
        "J" + Int32(numel) + "tQK\u0000K" + (char)rows + "K" + (char)cols + "\u0086K" + (char)cols + "K\u0001\u0086\u0089h\u0000)RtRu.");

    private static string Int32(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Encoding.Latin1.GetString(b);
    }

    private static byte[] Floats(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    [Fact]
    public void A_hand_built_state_dict_reads_back()
    {
        using var dir = new TempDirectory();
        using var ckpt = TorchZipCheckpoint.Open(Zip(dir, StateDict(6, 2, 3), ("0", Floats(1, 2, 3, 4, 5, 6))));
        Assert.True(ckpt.TryDescribe("w", out var d));
        Assert.Equal(new long[] { 2, 3 }, d.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], ckpt.ReadSingle("w"));
    }

    [Fact]
    public void A_transposed_view_is_read_through_its_strides()
    {
        using var dir = new TempDirectory();
        // shape (3, 2) with stride (1, 3): the transpose of the 2×3 storage.
        var pickle = P("\u0080\u0002}q\u0000(X\u0001\u0000\u0000\u0000wctorch._utils\n_rebuild_tensor_v2\n((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\n" +
                       "X\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0006tQK\u0000K\u0003K\u0002\u0086K\u0001K\u0003\u0086\u0089}tRu.");
        using var ckpt = TorchZipCheckpoint.Open(Zip(dir, pickle, ("0", Floats(1, 2, 3, 4, 5, 6))));
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], ckpt.ReadSingle("w"));
    }

    [Theory]
    [InlineData("\u0080\u0002cbuiltins\neval\nX\u0003\u0000\u0000\u00001+1\u0085R.", "builtins.eval")]
    [InlineData("\u0080\u0004\u008c\u0002os\u0094\u008c\u0006system\u0094\u0093\u008c\u0002id\u0085R.", "os.system")]
    [InlineData("\u0080\u0002ctorch\nload\n.", "torch.load")]
    [InlineData("\u0080\u0002cposix\nsystem\nX\u0002\u0000\u0000\u0000id\u0085R.", "posix.system")]
    public void A_global_outside_the_allow_list_is_refused_before_anything_runs(string pickle, string global)
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(Zip(dir, P(pickle))));
        Assert.Contains($"'{global}'", e.Message);
        Assert.Contains("not on the allow-list", e.Message);
        Assert.Equal("archive/data.pkl", e.Field);
    }

    [Theory]
    [InlineData("\u0080\u0002(ios\nsystem\nX\u0002\u0000\u0000\u0000idtR.", "opcode 0x69")]          // INST
    [InlineData("\u0080\u0002ccollections\nOrderedDict\n)\u0081.", "opcode 0x81")]              // NEWOBJ
    [InlineData("\u0080\u0002ctorch\nFloatStorage\n)R.", "cannot be called")]
    [InlineData("\u0080\u0002]q\u0000.", "not a state dict")]
    [InlineData("\u0080\u0002}q\u0000(X\u0001\u0000\u0000\u0000w", "truncated")]
    [InlineData("\u0080\u0002h\u0005.", "memo entry 5")]
    public void Malformed_or_non_state_dict_pickles_are_refused(string pickle, string expected)
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(Zip(dir, P(pickle))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_storage_smaller_than_the_pickle_declares_is_refused()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(Zip(dir, StateDict(6, 2, 3), ("0", Floats(1, 2)))));
        Assert.Equal("w", e.Field);
        Assert.Contains("holds 8 bytes but the pickle declares", e.Message);
    }

    [Fact]
    public void A_view_reaching_past_its_storage_is_refused()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(Zip(dir, StateDict(4, 2, 3), ("0", Floats(1, 2, 3, 4)))));
        Assert.Contains("reaches element 5 of a storage of 4", e.Message);
    }

    [Fact]
    public void An_absurd_storage_size_in_the_pickle_is_refused_without_allocating()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(Zip(dir, StateDict(int.MaxValue, 2, 3), ("0", Floats(1)))));
        Assert.Contains("more than the", e.Message);
    }

    [Theory]
    [InlineData(24, "absurd size")]       // uncompressed size in the central directory
    [InlineData(20, "compressed bytes")]  // compressed size in the central directory
    public void Absurd_sizes_in_zip_entries_are_refused(int fieldOffset, string expected)
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Fixtures.PathOf("dictionary_learning/topk/ae.pt"));
        int header = FindCentralHeader(bytes, "ae/data/2");
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(header + fieldOffset), 0xFFFF_FF00);
        var path = dir.File("ae.pt");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains("ae/data/2", e.Message);
        Assert.Equal(path, e.File);
    }

    [Theory]
    [InlineData("entry count")]     // the end record counts one entry more than the directory holds: read lazily, it threw from ZipArchive.Entries
    [InlineData("method")]          // an unknown compression method: NotSupportedException when the entry is opened
    [InlineData("local header")]    // the entry's local header is damaged
    public void A_corrupted_zip_directory_is_refused_naming_the_file(string damage)
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Fixtures.PathOf("dictionary_learning/topk/ae.pt"));
        int central = FindCentralHeader(bytes, "ae/data.pkl");
        switch (damage)
        {
            case "entry count":
                int end = bytes.Length - 22;
                while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end)) != 0x06054b50) end--;
                foreach (int field in new[] { 8, 10 }) // entries on this disk, entries in all
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(end + field), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(end + field)) + 1));
                break;
            case "method":
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(central + 10), 99);
                break;
            default:
                int local = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(central + 42));
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(local), 0xDEADBEEF);
                break;
        }
        File.Copy(Fixtures.PathOf("dictionary_learning/topk/config.json"), dir.File("config.json"));
        var path = dir.File("ae.pt");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(dir.Path));
        Assert.Equal(path, e.File);
        Assert.Contains(damage == "entry count" ? "the zip is corrupt (Number of entries" : "cannot be read", e.Message);
        Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(dir.Path));
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_refused()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("ae.pt"), [0x80, 0x02, (byte)'.']);
        Assert.Contains("not a PyTorch zip checkpoint", Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(dir.File("ae.pt"))).Message);
    }

    private static int FindCentralHeader(byte[] zip, string name)
    {
        var target = Encoding.ASCII.GetBytes(name);
        for (int i = 0; i + 46 < zip.Length; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i)) != 0x02014b50) continue;
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(i + 28));
            if (zip.AsSpan(i + 46, nameLength).SequenceEqual(target)) return i;
        }
        throw new InvalidOperationException($"No central directory entry for {name}.");
    }
}
