using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace SaeBench.TestKit;

/// <summary>
/// Writes pickle opcodes by name, for tests that need a hand-made (often hostile) <c>data.pkl</c>:
/// <code>
/// var pickle = new PickleBuilder().Proto(2).EmptyDict().Put(0).Str("self").Get(0).SetItem().Stop().ToArray();
/// </code>
/// </summary>
public sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    /// <summary>Bytes written so far.</summary>
    public int Length => _bytes.Count;

    public PickleBuilder Proto(int version) => Op(0x80).Raw((byte)version);
    public PickleBuilder EmptyDict() => Op((byte)'}');
    public PickleBuilder EmptyList() => Op((byte)']');
    public PickleBuilder EmptyTuple() => Op((byte)')');
    public PickleBuilder Mark() => Op((byte)'(');
    public PickleBuilder Tuple() => Op((byte)'t');
    public PickleBuilder Tuple2() => Op(0x86);
    public PickleBuilder SetItem() => Op((byte)'s');
    public PickleBuilder SetItems() => Op((byte)'u');
    public PickleBuilder Append() => Op((byte)'a');
    public PickleBuilder Appends() => Op((byte)'e');
    public PickleBuilder Pop() => Op((byte)'0');
    public PickleBuilder Dup() => Op((byte)'2');
    public PickleBuilder None() => Op((byte)'N');
    public PickleBuilder Reduce() => Op((byte)'R');
    public PickleBuilder Build() => Op((byte)'b');
    public PickleBuilder PersistentId() => Op((byte)'Q');
    public PickleBuilder Stop() => Op((byte)'.');

    /// <summary>BINPUT (index &lt; 256) or LONG_BINPUT.</summary>
    public PickleBuilder Put(int memo) => memo < 256 ? Op((byte)'q').Raw((byte)memo) : Op((byte)'r').UInt32((uint)memo);

    /// <summary>BINGET (index &lt; 256) or LONG_BINGET.</summary>
    public PickleBuilder Get(int memo) => memo < 256 ? Op((byte)'h').Raw((byte)memo) : Op((byte)'j').UInt32((uint)memo);

    /// <summary>BININT.</summary>
    public PickleBuilder Int(int value)
    {
        Op((byte)'J');
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        return Raw(b);
    }

    /// <summary>BINUNICODE.</summary>
    public PickleBuilder Str(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return Op((byte)'X').UInt32((uint)utf8.Length).Raw(utf8);
    }

    /// <summary>GLOBAL <c>module\nname\n</c>.</summary>
    public PickleBuilder Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));

    public PickleBuilder Op(byte opcode) => Raw(opcode);

    public PickleBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    private PickleBuilder UInt32(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Raw(b);
    }

    /// <summary>A float32 tensor <c>name</c> of shape <c>[rows, cols]</c> on storage <paramref name="key"/>, as
    /// <c>torch.save</c> writes it (key, then <c>_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())</c>);
    /// leaves key and tensor on the stack for SETITEMS.</summary>
    public PickleBuilder Tensor(string name, string key, int rows, int cols) =>
        Str(name).Global("torch._utils", "_rebuild_tensor_v2")
            .Mark().Mark().Str("storage").Global("torch", "FloatStorage").Str(key).Str("cpu").Int(rows * cols).Tuple().PersistentId()
            .Int(0).Int(rows).Int(cols).Tuple2().Int(cols).Int(1).Tuple2().Op(0x89).Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Tuple().Reduce();

    public byte[] ToArray() => _bytes.ToArray();
}

/// <summary>Writes a <c>torch.save</c>-style zip: <c>archive/data.pkl</c>, <c>archive/data/&lt;key&gt;</c> storages and <c>archive/version</c>.</summary>
public static class TorchZip
{
    public static void Write(string path, byte[] pickle, params (string Key, byte[] Bytes)[] storages)
    {
        using var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
            s.Write(bytes);
        }
        Add("archive/data.pkl", pickle);
        foreach (var (key, bytes) in storages) Add("archive/data/" + key, bytes);
        Add("archive/version", "3\n"u8.ToArray());
    }

    /// <summary>The entries of a zip, by name (to mutate one and write them back with <see cref="Rewrite"/>).</summary>
    public static List<(string Name, byte[] Bytes)> Entries(byte[] zipBytes)
    {
        using var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read);
        return zip.Entries.Select(e =>
        {
            using var s = e.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return (e.FullName, m.ToArray());
        }).ToList();
    }

    /// <summary>A zip holding <paramref name="entries"/>, stored uncompressed (so byte mutations of the whole file reach the data).</summary>
    public static byte[] Rewrite(IEnumerable<(string Name, byte[] Bytes)> entries)
    {
        using var m = new MemoryStream();
        using (var zip = new ZipArchive(m, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, bytes) in entries)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                s.Write(bytes);
            }
        }
        return m.ToArray();
    }
}
