using SaeBench.TestKit;
using System.IO.Compression;
using SaeBench.Models.FashionMnist;

namespace SaeBench.Models.Tests.FashionMnist;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Builds an IDX file by hand: big-endian magic, dimensions, then the bytes.</summary>
    private static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var bytes = new List<byte>();
        void Int(int v) => bytes.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
        Int(magic);
        foreach (var d in dims) Int(d);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    private string Gz(string name, byte[] raw)
    {
        var path = _dir.File(name);
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(raw);
        return path;
    }

    [Fact]
    public void Reads_dimensions_and_data_of_a_hand_built_file()
    {
        var path = Gz("images.gz", Idx(0x803, [2, 1, 3], [1, 2, 3, 4, 5, 6]));
        var idx = IdxReader.Read(path, IdxReader.ImagesMagic);
        Assert.Equal([2, 1, 3], idx.Dimensions);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, idx.Data);
    }

    [Fact]
    public void Wrong_magic_number_is_reported_with_file_and_both_values()
    {
        var path = Gz("labels.gz", Idx(0x803, [1, 1, 1], [0]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path, IdxReader.LabelsMagic));
        Assert.Contains(path, e.Message);
        Assert.Contains("0x00000803", e.Message);
        Assert.Contains("0x00000801", e.Message);
    }

    [Fact]
    public void Truncated_data_is_reported_with_declared_and_actual_sizes()
    {
        var path = Gz("short.gz", Idx(0x801, [10], [1, 2, 3]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path, IdxReader.LabelsMagic));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("10 bytes", e.Message);
        Assert.Contains("holds 3", e.Message);
    }

    [Fact]
    public void Truncated_header_is_reported()
    {
        var path = Gz("header.gz", [0, 0, 8, 3, 0, 0]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path, IdxReader.ImagesMagic));
        Assert.Contains("truncated header", e.Message);
    }

    [Fact]
    public void Trailing_bytes_are_reported()
    {
        var path = Gz("long.gz", Idx(0x801, [2], [1, 2, 3]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path, IdxReader.LabelsMagic));
        Assert.Contains("trailing", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_gzip_is_reported_with_its_name()
    {
        var path = _dir.File("plain.gz");
        File.WriteAllBytes(path, Idx(0x801, [2], [1, 2]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path, IdxReader.LabelsMagic));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_cut_off_gzip_file_is_reported()
    {
        var full = Gz("full.gz", Idx(0x803, [50, 28, 28], Enumerable.Range(0, 50 * 784).Select(i => (byte)(i * 7)).ToArray()));
        var bytes = File.ReadAllBytes(full);
        var cut = _dir.File("cut.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(cut, IdxReader.ImagesMagic));
        Assert.Contains(cut, e.Message);
    }

    [Fact]
    public void Images_and_labels_that_disagree_in_count_are_reported()
    {
        var images = Gz("i.gz", Idx(0x803, [2, 28, 28], new byte[2 * 784]));
        var labels = Gz("l.gz", Idx(0x801, [3], [0, 1, 2]));
        var e = Assert.Throws<InvalidDataException>(() => FashionMnistData.LoadSplit(images, labels));
        Assert.Contains("3 labels for the 2 images", e.Message);
    }

    [Fact]
    public void Images_of_the_wrong_size_are_reported()
    {
        var images = Gz("i.gz", Idx(0x803, [1, 27, 28], new byte[27 * 28]));
        var labels = Gz("l.gz", Idx(0x801, [1], [0]));
        var e = Assert.Throws<InvalidDataException>(() => FashionMnistData.LoadSplit(images, labels));
        Assert.Contains("27×28", e.Message);
    }

    [Fact]
    public void Labels_outside_the_ten_classes_are_reported()
    {
        var images = Gz("i.gz", Idx(0x803, [1, 28, 28], new byte[784]));
        var labels = Gz("l.gz", Idx(0x801, [1], [10]));
        var e = Assert.Throws<InvalidDataException>(() => FashionMnistData.LoadSplit(images, labels));
        Assert.Contains("label 10 at index 0", e.Message);
    }

    [Fact]
    public void The_shipped_dataset_has_the_published_sizes_and_balanced_classes()
    {
        var dir = RepositoryPaths.DataDirectory(new ModelOptions());
        var data = FashionMnistData.Load(dir);
        Assert.Equal(60000, data.TrainLabels.Length);
        Assert.Equal(10000, data.TestLabels.Length);
        Assert.Equal(60000 * 784, data.TrainImages.Length);
        // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
        Assert.All(data.TrainLabels.GroupBy(l => l), g => Assert.Equal(6000, g.Count()));
        Assert.All(data.TestLabels.GroupBy(l => l), g => Assert.Equal(1000, g.Count()));
    }
}
