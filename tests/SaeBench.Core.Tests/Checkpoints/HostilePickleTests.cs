using SaeBench.Core.Checkpoints;
using SaeBench.Core.Checkpoints.Torch;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>
/// Tiny hostile <c>ae.pt</c> files (issue 19): a dict that contains itself, dicts nested 200,000 deep and memo aliases that
/// expand to 2^30 leaves. Each once killed the process (stack overflow) or took all memory; each must now be refused with
/// an error naming the file, quickly and in little memory.
/// </summary>
public class HostilePickleTests
{
    private const long MemoryBudget = 64L << 20;

    private static CheckpointFormatException Refused(TempDirectory dir, byte[] pickle)
    {
        var path = dir.File("ae.pt");
        TorchZip.Write(path, pickle);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(path).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < MemoryBudget, $"refusing it allocated {allocated >> 20} MiB");
        Assert.Equal(path, e.File);
        Assert.StartsWith(path + ": archive/data.pkl: ", e.Message);
        return e;
    }

    [Fact]
    public void A_dict_that_contains_itself_is_refused()
    {
        using var dir = new TempDirectory();
        var pickle = new PickleBuilder().Proto(2).EmptyDict().Put(0).Str("w").Get(0).SetItem().Stop().ToArray();
        Assert.Contains("contains itself", Refused(dir, pickle).Message);
    }

    [Fact]
    public void A_list_that_contains_itself_is_refused()
    {
        using var dir = new TempDirectory();
        var pickle = new PickleBuilder().Proto(2).EmptyDict().Str("w").EmptyList().Put(0).Get(0).Append().SetItem().Stop().ToArray();
        Assert.Contains("contains itself", Refused(dir, pickle).Message);
    }

    [Fact]
    public void Dicts_nested_200000_deep_are_refused()
    {
        using var dir = new TempDirectory();
        var b = new PickleBuilder().Proto(2).EmptyDict();
        for (int i = 0; i < 200_000; i++) b.Str("a").EmptyDict();
        for (int i = 0; i < 200_000; i++) b.SetItem();
        var e = Refused(dir, b.Stop().ToArray());
        Assert.Contains("nested deeper than", e.Message);
    }

    [Fact]
    public void Memo_aliases_that_expand_to_2_to_the_30_leaves_cost_nothing()
    {
        using var dir = new TempDirectory();
        // d0 = {}; d(i) = {'a': d(i-1), 'b': d(i-1)}; the state dict is {'w': d30}: 31 dicts, 2^30 paths to a leaf.
        var b = new PickleBuilder().Proto(2).EmptyDict().Put(0).Pop();
        for (int i = 1; i <= 30; i++) b.EmptyDict().Str("a").Get(i - 1).SetItem().Str("b").Get(i - 1).SetItem().Put(i).Pop();
        b.EmptyDict().Str("w").Get(30).SetItem().Stop();
        var pickle = b.ToArray();
        Assert.True(pickle.Length < 1024);
        var path = dir.File("ae.pt");
        TorchZip.Write(path, pickle);
        long before = GC.GetAllocatedBytesForCurrentThread();
        using (var ckpt = TorchZipCheckpoint.Open(path)) Assert.Empty(ckpt.Tensors); // read as data, never expanded
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < MemoryBudget);
        // As a checkpoint it has no weights: refused like any other incomplete ae.pt.
        File.WriteAllText(dir.File("config.json"), """{"trainer": {"dict_class": "AutoEncoder", "activation_dim": 4, "dict_size": 8}}""");
        Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(dir.Path));
    }

    [Fact]
    public void Tuples_as_dict_keys_are_refused_without_comparing_them()
    {
        using var dir = new TempDirectory();
        // Two equal, deeply nested tuple keys once made the second SETITEM compare them recursively (a stack overflow).
        var b = new PickleBuilder().Proto(2).EmptyDict();
        for (int key = 0; key < 2; key++)
        {
            b.EmptyTuple();
            for (int i = 0; i < 100_000; i++) b.Op(0x85); // TUPLE1
            b.Int(1).SetItem();
        }
        var e = Refused(dir, b.Stop().ToArray());
        Assert.Contains("key", e.Message);
    }

    [Fact]
    public void Many_items_set_one_by_one_stay_linear()
    {
        using var dir = new TempDirectory();
        var b = new PickleBuilder().Proto(2).EmptyDict();
        for (int i = 0; i < 200_000; i++) b.Str("k" + i).Int(i).SetItem();
        var path = dir.File("ae.pt");
        TorchZip.Write(path, b.Stop().ToArray());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using (var ckpt = TorchZipCheckpoint.Open(path)) Assert.Empty(ckpt.Tensors);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_state_dict_built_by_the_pickle_builder_still_reads()
    {
        using var dir = new TempDirectory();
        var pickle = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Mark().Tensor("w", "0", 2, 3).SetItems().Stop().ToArray();
        var path = dir.File("ae.pt");
        TorchZip.Write(path, pickle, ("0", new byte[24]));
        using var ckpt = TorchZipCheckpoint.Open(path);
        Assert.Equal(new long[] { 2, 3 }, ckpt.Tensors["w"].Size);
    }
}
