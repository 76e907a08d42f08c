using SaeBench.Core;
using SaeBench.Core.Models;
using SaeBench.Models.Files;
using SaeBench.TestKit;
using System.Text;

namespace SaeBench.Models.Tests.Files;

/// <summary>
/// Activation files and labels that once exhausted memory, were accepted with absurd sizes, carried NaN into every metric,
/// or failed when reached through a symbolic link (issue 19).
/// </summary>
public sealed class HostileActivationFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private IModelUnderStudy Open(string spec, bool allowNonFinite = false, List<string>? log = null) =>
        ModelCatalog.Create("file:" + spec, new ModelOptions { WorkingDirectory = _dir.Path, AllowNonFinite = allowNonFinite, Log = log is null ? null : log.Add });

    private string Npy(string name, int rows, int cols, Func<int, float>? value = null)
    {
        var path = _dir.File(name);
        NpyFile.WriteFloats(path, [rows, cols], Enumerable.Range(0, rows * cols).Select(i => value?.Invoke(i) ?? i).ToArray());
        return path;
    }

    /// <summary>A .npy whose header says <paramref name="shape"/>, followed by <paramref name="dataBytes"/> zero bytes.</summary>
    private string NpyHeader(string name, string shape, int dataBytes)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        while ((10 + dict.Length + 1) % 64 != 0) dict += " ";
        dict += "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([1, 0, (byte)dict.Length, (byte)(dict.Length >> 8)]);
        bytes.AddRange(Encoding.ASCII.GetBytes(dict));
        bytes.AddRange(new byte[dataBytes]);
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    [Fact]
    public void A_label_of_a_billion_is_one_class_not_a_billion()
    {
        Npy("acts.npy", 10, 2);
        File.WriteAllText(_dir.File("acts.labels.csv"), "label\n0\n1000000000\n5\n0\n5\n1000000000\n0\n5\n1000000000\n0\n");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var tasks = Open("acts.npy").Capability<ILabelledTasks>()!;
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20);
        Assert.Equal(["0", "5", "1000000000"], tasks.Tasks.ClassNames);
        Assert.Equal([0, 2, 1, 0, 1, 2, 0, 1], tasks.Labels(Split.Train).Classes.ToArray());
        Assert.Equal([2, 0], tasks.Labels(Split.Test).Classes.ToArray());
    }

    [Fact]
    public void Labels_zero_to_k_minus_one_keep_their_indices()
    {
        Npy("acts.npy", 5, 2);
        File.WriteAllText(_dir.File("acts.labels.csv"), "label\n2\n0\n1\n3\n0\n");
        var tasks = Open("acts.npy").Capability<ILabelledTasks>()!;
        Assert.Equal(["0", "1", "2", "3"], tasks.Tasks.ClassNames);
        Assert.Equal([2, 0, 1, 3], tasks.Labels(Split.Train).Classes.ToArray());
    }

    [Fact]
    public void A_labels_file_with_far_more_rows_or_a_huge_field_is_refused_as_soon_as_it_is_read()
    {
        Npy("acts.npy", 5, 2);
        File.WriteAllText(_dir.File("many.csv"), "label\n" + string.Concat(Enumerable.Repeat("1\n", 100_000)));
        var e = Assert.Throws<BadInputException>(() => Open("acts.npy,labels=many.csv"));
        Assert.Contains("many.csv: more label rows than the 5 examples", e.Message);

        File.WriteAllText(_dir.File("field.csv"), "label\n" + new string('x', LabelsCsv.MaxFieldChars + 10));
        e = Assert.Throws<BadInputException>(() => Open("acts.npy,labels=field.csv"));
        Assert.Contains("field.csv: row 2 has a field longer than", e.Message);
    }

    [Theory]
    [InlineData("(1073741824, 1073741824, 16)")] // 2^64 elements: wrapped to 0 bytes, which an empty data section "fits"
    [InlineData("(2147483647, 2147483647, 2147483647)")]
    [InlineData("(4611686018427387904, 4)")]
    public void A_npy_shape_whose_size_overflows_is_refused(string shape)
    {
        var path = NpyHeader("huge.npy", shape, 0);
        Assert.True(new FileInfo(path).Length <= 128);
        var e = Assert.Throws<BadInputException>(() => Open("huge.npy"));
        Assert.Contains(path, e.Message);
        Assert.Contains("field 'shape'", e.Message);
        Assert.Contains("overflows", e.Message);
    }

    [Theory]
    [InlineData("()", 4)]
    [InlineData("(3,)", 12)]
    public void A_npy_of_rank_0_or_1_is_refused_naming_the_shape(string shape, int bytes)
    {
        // A scalar once threw IndexOutOfRangeException reading its first dimension (found by the fuzz tests).
        var path = NpyHeader("scalar.npy", shape, bytes);
        var e = Assert.Throws<BadInputException>(() => Open("scalar.npy"));
        Assert.Contains(path + ": field 'shape'", e.Message);
        Assert.Contains("expected [N, d] or [N, positions, d]", e.Message);
    }

    [Fact]
    public void A_npy_shape_larger_than_the_file_is_refused_before_anything_is_allocated()
    {
        var path = NpyHeader("big.npy", "(1000000000, 64)", 64);
        var e = Assert.Throws<BadInputException>(() => Open("big.npy"));
        Assert.Contains(path, e.Message);
        Assert.Contains("needs 256000000000 bytes", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, 13, "example 6, dimension 1 (element 13)")]
    [InlineData(float.PositiveInfinity, 0, "example 0, dimension 0 (element 0)")]
    [InlineData(float.NegativeInfinity, 19, "example 9, dimension 1 (element 19)")]
    public void Non_finite_activations_are_refused_naming_the_file_and_the_first_position(float bad, int at, string where)
    {
        var path = Npy("acts.npy", 10, 2, i => i == at || i == 19 ? bad : i);
        var e = Assert.Throws<BadInputException>(() => Open("acts.npy"));
        Assert.Contains(path, e.Message);
        Assert.Contains("non-finite values (NaN or ±Inf), the first at " + where, e.Message);
        Assert.Contains("allow_non_finite", e.Message);
    }

    [Fact]
    public void Non_finite_activations_in_a_3d_safetensors_file_name_example_position_and_dimension()
    {
        var values = Enumerable.Range(0, 4 * 3 * 2).Select(i => i == 15 ? float.NaN : (float)i).ToArray();
        var path = _dir.File("acts.safetensors");
        Core.Safetensors.SafetensorsWriter.Write(path, [Core.Safetensors.SafetensorsTensor.F32("activations", values, 4, 3, 2)]);
        var e = Assert.Throws<BadInputException>(() => Open("acts.safetensors"));
        Assert.Contains("the first at example 2, position 1, dimension 1 (element 15)", e.Message);
    }

    [Fact]
    public void Non_finite_activations_load_when_allowed_and_are_logged()
    {
        Npy("acts.npy", 10, 2, i => i == 3 ? float.NaN : i);
        var log = new List<string>();
        var model = Open("acts.npy", allowNonFinite: true, log: log);
        Assert.Equal(2, model.Info.DModel);
        Assert.Contains(log, l => l.Contains("1 non-finite values") && l.Contains("example 1, dimension 1"));
    }

    [Fact]
    public void An_activation_file_and_labels_reached_through_symbolic_links_stream_normally()
    {
        // Hugging Face's cache, DVC and git-annex keep the content in a blob store and link to it.
        var blobs = _dir.Directory("blobs");
        var real = Npy("blobs/0a1b2c", 10, 2);
        File.WriteAllText(Path.Combine(blobs, "3d4e5f"), "label\n" + string.Join("\n", Enumerable.Range(0, 10).Select(i => i % 2)) + "\n");
        var snapshot = _dir.Directory("snapshot");
        File.CreateSymbolicLink(Path.Combine(snapshot, "acts.npy"), "../blobs/0a1b2c");
        File.CreateSymbolicLink(Path.Combine(snapshot, "acts.labels.csv"), Path.Combine(blobs, "3d4e5f"));
        var model = Open("snapshot/acts.npy");
        var x = model.Activations(Split.Train).Batches(100).Single();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (float)i), x.Activations.ToArray());
        Assert.Equal(["0", "1"], model.Capability<ILabelledTasks>()!.Tasks.ClassNames);
        Assert.True(File.Exists(real));
    }

    [Fact]
    public void A_symbolic_link_to_a_safetensors_activation_file_streams_normally()
    {
        var values = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var real = _dir.File("real.safetensors");
        Core.Safetensors.SafetensorsWriter.Write(real, [Core.Safetensors.SafetensorsTensor.F32("activations", values, 6, 2)]);
        File.CreateSymbolicLink(_dir.File("link.safetensors"), real);
        var model = Open("link.safetensors");
        Assert.Equal(values[..10], model.Activations(Split.Train).Batches(100).Single().Activations.ToArray());
    }

    [Fact]
    public void An_empty_activation_file_is_refused()
    {
        File.WriteAllBytes(_dir.File("empty.npy"), []);
        Assert.Contains("empty.npy", Assert.Throws<BadInputException>(() => Open("empty.npy")).Message);
    }
}
