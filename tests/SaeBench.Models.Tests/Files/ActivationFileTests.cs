using SaeBench.TestKit;
using SaeBench.Core;
using System.Buffers.Binary;
using System.Text;
using SaeBench.Core.Models;
using SaeBench.Models.Files;

namespace SaeBench.Models.Tests.Files;

public sealed class ActivationFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A .npy file built byte by byte, as NumPy's format specification describes (independent of the writer).</summary>
    private string Npy(string name, string descr, string shape, byte[] data, string fortran = "False")
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}";
        while ((10 + dict.Length + 1) % 64 != 0) dict += " ";
        dict += "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([1, 0, (byte)dict.Length, (byte)(dict.Length >> 8)]);
        bytes.AddRange(Encoding.ASCII.GetBytes(dict));
        bytes.AddRange(data);
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    /// <summary>A safetensors file built byte by byte from a JSON header text and the data.</summary>
    private string Safetensors(string name, string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] F32(IEnumerable<float> values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private static float[] ReadAll(IActivationSource source, int batchRows = 3) =>
        source.Batches(batchRows).SelectMany(b => b.Activations.ToArray()).ToArray();

    private IModelUnderStudy Open(string spec) =>
        ModelCatalog.Create("file:" + spec, new ModelOptions { WorkingDirectory = _dir.Path });

    [Fact]
    public void A_2d_npy_file_streams_in_order_with_the_last_fifth_as_test_split()
    {
        var values = Enumerable.Range(0, 10 * 4).Select(i => i * 0.5f).ToArray();
        Npy("acts.npy", "<f4", "(10, 4)", F32(values));
        var model = Open("acts.npy");
        Assert.Equal("file:acts.npy", model.Info.Id);
        Assert.Equal(4, model.Info.DModel);
        Assert.Equal(1, model.Info.Positions);
        Assert.Equal(new ActivationShape(8, 1, 4), model.Activations(Split.Train).Shape);
        Assert.Equal(values[..32], ReadAll(model.Activations(Split.Train)));
        Assert.Equal(values[32..], ReadAll(model.Activations(Split.Test)));
        var test = model.Activations(Split.Test).Batches(100).Single();
        Assert.Equal([0, 1], test.ExampleIndex.ToArray());
        Assert.Equal([-1, -1], test.Label.ToArray());
        Assert.Null(model.Capability<ILabelledTasks>());
    }

    [Fact]
    public void A_file_model_has_no_forward_pass_and_says_why_an_evaluator_is_not_applicable()
    {
        Npy("acts.npy", "<f4", "(5, 2)", F32(new float[10]));
        var model = Open("acts.npy");
        Assert.Null(model.Capability<IDownstreamLoss>());
        Assert.False(model.TryGet<IDownstreamLoss>(out _, out var reason));
        Assert.Contains("file:acts.npy", reason);
        Assert.Contains("downstream loss", reason);
    }

    [Fact]
    public void A_3d_f16_npy_file_keeps_positions_per_example()
    {
        var values = Enumerable.Range(0, 5 * 3 * 2).Select(i => (float)i).ToArray();
        Npy("tok.npy", "<f2", "(5, 3, 2)", values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray());
        var model = Open("tok.npy");
        Assert.Equal(3, model.Info.Positions);
        var batches = model.Activations(Split.Train).Batches(7).ToList();
        Assert.All(batches, b => Assert.Equal(0, b.Rows % 3));
        Assert.Equal(values[..24], batches.SelectMany(b => b.Activations.ToArray()));
        Assert.Equal([0, 0, 0, 1, 1, 1], batches[0].ExampleIndex.ToArray());
    }

    [Fact]
    public void Labels_beside_the_file_give_classes_and_tasks()
    {
        Npy("acts.npy", "<f4", "(5, 2)", F32(new float[10]));
        File.WriteAllText(_dir.File("acts.labels.csv"), "id,label\n0,cat\n1,dog\n2,\"cat\"\n3,\n4,bird\n");
        var model = Open("acts.npy");
        var tasks = model.Capability<ILabelledTasks>()!;
        Assert.Equal(["bird", "cat", "dog"], tasks.Tasks.ClassNames);
        Assert.Equal([1, 2, 1, -1], tasks.Labels(Split.Train).Classes.ToArray());
        Assert.Equal([0], tasks.Labels(Split.Test).Classes.ToArray());
        Assert.Equal([1, 2, 1, -1], model.Activations(Split.Train).Batches(10).Single().Label.ToArray());
    }

    [Fact]
    public void Labels_with_the_wrong_row_count_or_no_label_column_are_reported()
    {
        Npy("acts.npy", "<f4", "(5, 2)", F32(new float[10]));
        File.WriteAllText(_dir.File("few.csv"), "label\n0\n1\n");
        var e = Assert.Throws<BadInputException>(() => Open("acts.npy,labels=few.csv"));
        Assert.Contains("few.csv", e.Message);
        Assert.Contains("2 label rows for 5 examples", e.Message);

        File.WriteAllText(_dir.File("nocol.csv"), "class\n0\n1\n2\n3\n4\n");
        e = Assert.Throws<BadInputException>(() => Open("acts.npy,labels=nocol.csv"));
        Assert.Contains("no 'label' column", e.Message);
    }

    [Fact]
    public void A_safetensors_file_with_bf16_activations_and_a_mask()
    {
        // 4 examples × 2 positions × 1 dim; BF16 = the top 16 bits of the float32.
        float[] values = [1, 2, 3, 4, -1, -2, 0.5f, 8];
        var acts = values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(v) >> 16))).ToArray();
        byte[] mask = [1, 1, 1, 0, 1, 0, 1, 1];
        var json = "{\"__metadata__\":{\"hook\":\"x\"},\"activations\":{\"dtype\":\"BF16\",\"shape\":[4,2,1],\"data_offsets\":[0,16]}," +
                   "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[4,2],\"data_offsets\":[16,24]}}";
        Safetensors("a.safetensors", json, [.. acts, .. mask]);
        var model = Open("a.safetensors");
        Assert.Equal(2, model.Info.Positions);
        var train = model.Activations(Split.Train).Batches(100).Single();
        Assert.Equal(values[..6], train.Activations.ToArray());
        Assert.Equal([true, true, true, false, true, false], train.Valid.ToArray());
    }

    [Fact]
    public void A_directory_with_train_and_test_files_and_their_labels()
    {
        var dir = Path.Combine(_dir.Path, "acts");
        Directory.CreateDirectory(dir);
        File.Move(Npy("train.npy", "<f4", "(3, 2)", F32([1, 2, 3, 4, 5, 6])), Path.Combine(dir, "train.npy"));
        File.Move(Npy("test.npy", "<f4", "(2, 2)", F32([7, 8, 9, 10])), Path.Combine(dir, "test.npy"));
        File.WriteAllText(Path.Combine(dir, "train.labels.csv"), "label\n0\n2\n1\n");
        File.WriteAllText(Path.Combine(dir, "test.labels.csv"), "label\n3\n0\n");
        var model = Open("acts");
        Assert.Equal([1f, 2, 3, 4, 5, 6], ReadAll(model.Activations(Split.Train)));
        Assert.Equal([7f, 8, 9, 10], ReadAll(model.Activations(Split.Test)));
        var tasks = model.Capability<ILabelledTasks>()!;
        Assert.Equal(["0", "1", "2", "3"], tasks.Tasks.ClassNames);
        Assert.Equal([3, 0], tasks.Labels(Split.Test).Classes.ToArray());
    }

    [Fact]
    public void A_truncated_npy_file_is_reported_with_needed_and_present_bytes()
    {
        var path = Npy("cut.npy", "<f4", "(10, 4)", F32(new float[30]));
        var e = Assert.Throws<BadInputException>(() => Open("cut.npy"));
        Assert.Contains(path, e.Message);
        Assert.Contains("needs 160 bytes", e.Message);
        Assert.Contains("only 120", e.Message);
    }

    [Theory]
    [InlineData("<i4", "(2, 2)", "False", "activations must be F32")]
    [InlineData(">f4", "(2, 2)", "False", "'descr' is '>f4'")]
    [InlineData("<f4", "(2, 2)", "True", "'fortran_order' is True")]
    [InlineData("<f4", "(2, 1, 1, 2)", "False", "expected [N, d] or [N, positions, d]")]
    public void Unsupported_npy_headers_name_the_field(string descr, string shape, string fortran, string message)
    {
        Npy("bad.npy", descr, shape, new byte[16], fortran);
        var e = Assert.ThrowsAny<Exception>(() => Open("bad.npy"));
        Assert.True(e is BadInputException);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_file_that_is_not_npy_is_reported()
    {
        File.WriteAllText(_dir.File("text.npy"), "hello, I am not an array");
        var e = Assert.Throws<BadInputException>(() => Open("text.npy"));
        Assert.Contains("not a .npy file", e.Message);
    }

    [Fact]
    public void Corrupt_safetensors_files_are_reported()
    {
        Safetensors("json.safetensors", "{\"activations\": [", new byte[8]);
        Assert.Contains("not valid JSON", Assert.Throws<BadInputException>(() => Open("json.safetensors")).Message);

        Safetensors("offsets.safetensors", "{\"activations\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", new byte[16]);
        Assert.Contains("activations.data_offsets: range holds 12 bytes", Assert.Throws<BadInputException>(() => Open("offsets.safetensors")).Message);

        Safetensors("short.safetensors", "{\"activations\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,32]}}", new byte[20]);
        Assert.Contains("truncated?", Assert.Throws<BadInputException>(() => Open("short.safetensors")).Message);

        var path = _dir.File("header.safetensors");
        File.WriteAllBytes(path, [200, 0, 0, 0, 0, 0, 0, 0, (byte)'{']);
        Assert.Contains("header of 200 bytes runs past the end", Assert.Throws<BadInputException>(() => Open("header.safetensors")).Message);

        Safetensors("dtype.safetensors", "{\"activations\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        Assert.Contains("activations.dtype: unknown dtype 'F8_E4M3'", Assert.Throws<BadInputException>(() => Open("dtype.safetensors")).Message);
    }

    [Fact]
    public void Missing_files_and_unknown_options_are_reported()
    {
        Assert.Throws<BadInputException>(() => Open("nothere.npy"));
        Npy("acts.npy", "<f4", "(5, 2)", F32(new float[10]));
        Assert.Contains("unknown file option", Assert.Throws<BadInputException>(() => Open("acts.npy,colour=red")).Message);
    }

    [Fact]
    public void The_npy_writer_round_trips_through_the_reader()
    {
        var path = _dir.File("w.npy");
        NpyFile.WriteFloats(path, [3, 2], [1, 2, 3, 4, 5, 6]);
        var layout = NpyFile.ReadHeader(path);
        Assert.Equal([3L, 2], layout.Shape);
        Assert.Equal(0, layout.DataOffset % 64);
        using var file = new MappedFile(path);
        var back = new float[6];
        file.ReadFloats(layout, 0, back);
        Assert.Equal([1f, 2, 3, 4, 5, 6], back);
    }
}
