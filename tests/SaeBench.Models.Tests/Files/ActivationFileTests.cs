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

    /// <summary>The file rows a split holds, read back from activations that encode their row (row r's first value = r).</summary>
    private static int[] RowsOf(IActivationSource source, int d) =>
        source.Batches(3).SelectMany(b => Enumerable.Range(0, b.Rows / source.Shape.Positions)
            .Select(e => (int)b.Activations[e * source.Shape.Positions, 0])).ToArray();

    [Fact]
    public void A_2d_npy_file_is_split_at_random_a_fifth_for_test_each_split_in_file_order()
    {
        // Row r holds r, r + 0.25, r + 0.5, r + 0.75: every value says which row it came from.
        var values = Enumerable.Range(0, 10 * 4).Select(i => i / 4 + (i % 4) * 0.25f).ToArray();
        Npy("acts.npy", "<f4", "(10, 4)", F32(values));
        var model = Open("acts.npy");
        Assert.Equal("file:acts.npy", model.Info.Id);
        Assert.Equal(4, model.Info.DModel);
        Assert.Equal(1, model.Info.Positions);
        Assert.Equal(new ActivationShape(8, 1, 4), model.Activations(Split.Train).Shape);
        var train = RowsOf(model.Activations(Split.Train), 4);
        var test = RowsOf(model.Activations(Split.Test), 4);
        Assert.Equal(2, test.Length);
        Assert.Equal(Enumerable.Range(0, 10), train.Concat(test).Order());   // a partition of the file's rows
        Assert.Equal(train.Order(), train);                                   // each split in file order
        Assert.Equal(test.Order(), test);
        // Whole rows travel together.
        var trainValues = ReadAll(model.Activations(Split.Train));
        for (int e = 0; e < train.Length; e++) Assert.Equal(values.AsSpan(train[e] * 4, 4).ToArray(), trainValues[(e * 4)..(e * 4 + 4)]);
        var batch = model.Activations(Split.Test).Batches(100).Single();
        Assert.Equal([0, 1], batch.ExampleIndex.ToArray());
        Assert.Equal([-1, -1], batch.Label.ToArray());
        Assert.Null(model.Capability<ILabelledTasks>());
        Assert.Contains("split_seed 0", model.Info.Description);
    }

    [Fact]
    public void The_split_seed_chooses_the_split_and_is_recorded()
    {
        var values = Enumerable.Range(0, 50 * 2).Select(i => (float)(i / 2)).ToArray();
        Npy("acts.npy", "<f4", "(50, 2)", F32(values));
        var a = Open("acts.npy");
        var again = Open("acts.npy,split_seed=0");
        var b = Open("acts.npy,split_seed=7");
        Assert.Equal(RowsOf(a.Activations(Split.Test), 2), RowsOf(again.Activations(Split.Test), 2));
        Assert.NotEqual(RowsOf(a.Activations(Split.Test), 2), RowsOf(b.Activations(Split.Test), 2));
        Assert.Equal(a.Info.ContentHash, again.Info.ContentHash);
        Assert.NotEqual(a.Info.ContentHash, b.Info.ContentHash);
        Assert.Contains("split_seed 7", b.Info.Description);
        var e = Assert.Throws<BadInputException>(() => Open("acts.npy,split_seed=x"));
        Assert.Contains("split_seed", e.Message);
    }

    [Fact]
    public void A_file_sorted_by_label_keeps_every_class_in_the_test_split()
    {
        // 10 classes of 100 rows, sorted: the last fifth of the file would hold only classes 8 and 9.
        int n = 1000;
        Npy("sorted.npy", "<f4", "(1000, 2)", F32(Enumerable.Range(0, n * 2).Select(i => (float)(i / 2))));
        File.WriteAllText(_dir.File("sorted.labels.csv"), "label\n" + string.Concat(Enumerable.Range(0, n).Select(r => $"{r / 100}\n")));
        var model = Open("sorted.npy");
        var tasks = model.Capability<ILabelledTasks>()!;
        var testClasses = tasks.Labels(Split.Test).Classes.ToArray();
        Assert.Equal(200, testClasses.Length);
        Assert.Equal(Enumerable.Range(0, 10), testClasses.Distinct().Order());
        foreach (int c in Enumerable.Range(0, 10)) Assert.InRange(testClasses.Count(v => v == c), 5, 40);
        // Labels travel with their rows: row r has label r / 100.
        var rows = RowsOf(model.Activations(Split.Test), 2);
        Assert.Equal(rows.Select(r => r / 100), testClasses);
    }

    [Fact]
    public void A_named_hook_is_checked_against_the_hook_an_sae_records()
    {
        Npy("acts.npy", "<f4", "(5, 2)", F32(new float[10]));
        var unnamed = Open("acts.npy");
        var sae = new SaeBench.Core.Autoencoders.SaeConfig { HookName = "blocks.3.hook_resid_post" };
        Assert.Empty(unnamed.Capability<ICheckpointCompatibility>()!.Problems(sae));
        var named = ModelCatalog.Create("file:acts.npy", new ModelOptions { WorkingDirectory = _dir.Path, Hook = "blocks.4.hook_resid_post" });
        var problem = Assert.Single(named.Capability<ICheckpointCompatibility>()!.Problems(sae));
        Assert.Contains("blocks.3.hook_resid_post", problem);
        Assert.Contains("blocks.4.hook_resid_post", problem);
        Assert.Empty(named.Capability<ICheckpointCompatibility>()!.Problems(new SaeBench.Core.Autoencoders.SaeConfig { HookName = "blocks.4.hook_resid_post" }));
        Assert.Empty(named.Capability<ICheckpointCompatibility>()!.Problems(new SaeBench.Core.Autoencoders.SaeConfig()));
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
        // Example e holds 6e … 6e + 5 (3 positions × 2 dims).
        var values = Enumerable.Range(0, 5 * 3 * 2).Select(i => (float)i).ToArray();
        Npy("tok.npy", "<f2", "(5, 3, 2)", values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray());
        var model = Open("tok.npy");
        Assert.Equal(3, model.Info.Positions);
        var batches = model.Activations(Split.Train).Batches(7).ToList();
        Assert.All(batches, b => Assert.Equal(0, b.Rows % 3));
        var read = batches.SelectMany(b => b.Activations.ToArray()).ToArray();
        Assert.Equal(24, read.Length);
        for (int e = 0; e < 4; e++)
        {
            int row = (int)read[e * 6] / 6;
            Assert.Equal(values.AsSpan(row * 6, 6).ToArray(), read[(e * 6)..(e * 6 + 6)]);
        }
        Assert.Equal([0, 0, 0, 1, 1, 1], batches[0].ExampleIndex.ToArray());
    }

    [Fact]
    public void Labels_beside_the_file_give_classes_and_tasks()
    {
        Npy("acts.npy", "<f4", "(5, 2)", F32(Enumerable.Range(0, 10).Select(i => (float)(i / 2))));
        File.WriteAllText(_dir.File("acts.labels.csv"), "id,label\n0,cat\n1,dog\n2,\"cat\"\n3,\n4,bird\n");
        string[] fileLabels = ["cat", "dog", "cat", "", "bird"];
        var model = Open("acts.npy");
        var tasks = model.Capability<ILabelledTasks>()!;
        Assert.Equal(["bird", "cat", "dog"], tasks.Tasks.ClassNames);
        int Class(string label) => label.Length == 0 ? -1 : Array.IndexOf(new[] { "bird", "cat", "dog" }, label);
        var trainRows = RowsOf(model.Activations(Split.Train), 2);
        var testRows = RowsOf(model.Activations(Split.Test), 2);
        Assert.Equal(trainRows.Select(r => Class(fileLabels[r])), tasks.Labels(Split.Train).Classes.ToArray());
        Assert.Equal(testRows.Select(r => Class(fileLabels[r])), tasks.Labels(Split.Test).Classes.ToArray());
        Assert.Equal(tasks.Labels(Split.Train).Classes.ToArray(), model.Activations(Split.Train).Batches(10).Single().Label.ToArray());
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
        Assert.Equal(6, train.Rows);
        // Each train example is one of the file's, with its own mask (the split is random; the rows stay whole).
        for (int e = 0; e < 3; e++)
        {
            int row = Array.IndexOf(values, train.Activations[2 * e, 0]) / 2;
            Assert.Equal(values[(2 * row)..(2 * row + 2)], train.Activations.ToArray()[(2 * e)..(2 * e + 2)]);
            Assert.Equal(mask[(2 * row)..(2 * row + 2)].Select(m => m != 0), train.Valid.ToArray()[(2 * e)..(2 * e + 2)]);
        }
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
