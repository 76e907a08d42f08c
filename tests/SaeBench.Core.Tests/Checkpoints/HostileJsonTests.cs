using System.Buffers.Binary;
using System.Text;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Results;
using SaeBench.Core.Safetensors;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>
/// JSON that once escaped as an unexpected exception (issue 19): duplicate keys (a JsonNode throws ArgumentException on
/// first access), strings with a lone UTF-16 surrogate or invalid UTF-8 (reading them throws InvalidOperationException),
/// and infinite numbers. Each is refused as bad input naming the file and what is wrong.
/// </summary>
public class HostileJsonTests
{
    private static string Copy(TempDirectory dir, string fixture)
    {
        var target = dir.Directory("ckpt");
        foreach (var f in Directory.GetFiles(Fixtures.PathOf(fixture))) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return target;
    }

    private static void Edit(string file, Func<string, string> change) => File.WriteAllText(file, change(File.ReadAllText(file)));

    public static TheoryData<string, string, string> Configs() => new()
    {
        { "saelens_v6/topk", "cfg.json", "\"architecture\": \"topk\"" },
        { "sparsify/layers.4", "cfg.json", "\"activation\": \"topk\"" },
        { "dictionary_learning/topk", "config.json", "\"dict_class\": \"AutoEncoderTopK\"" },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void Duplicate_keys_in_a_checkpoint_config_are_refused(string fixture, string config, string field)
    {
        using var dir = new TempDirectory();
        var ckpt = Copy(dir, fixture);
        var path = Path.Combine(ckpt, config);
        Edit(path, text => text.Replace(field, field + ", " + field));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(ckpt));
        Assert.Equal(path, e.File);
        Assert.Contains("Duplicate property", e.Message);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void A_lone_surrogate_in_a_checkpoint_config_is_refused(string fixture, string config, string field)
    {
        using var dir = new TempDirectory();
        var ckpt = Copy(dir, fixture);
        var path = Path.Combine(ckpt, config);
        Edit(path, text => text.Replace(field, field[..^1] + "\\ud800\""));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(ckpt));
        Assert.Equal(path, e.File);
        Assert.Contains("is not valid Unicode", e.Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_checkpoint_config_is_refused()
    {
        using var dir = new TempDirectory();
        var ckpt = Copy(dir, "saelens_v6/topk");
        var path = Path.Combine(ckpt, "cfg.json");
        var bytes = File.ReadAllBytes(path).ToList();
        int at = Encoding.ASCII.GetString(bytes.ToArray()).IndexOf("gpt2", StringComparison.Ordinal);
        bytes.InsertRange(at, new byte[] { 0xFF, 0xC0 });
        File.WriteAllBytes(path, bytes.ToArray());
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(ckpt));
        Assert.Contains("the string at byte", e.Message);
        Assert.Contains("after the key 'model_name'", e.Message);
    }

    [Theory]
    [InlineData("\"d_in\": 16", "\"d_in\": 1e999", "d_in")]
    [InlineData("\"k\": 8", "\"k\": 8, \"norm_scaling_factor\": -1e400", "norm_scaling_factor")]
    public void An_infinite_number_in_a_checkpoint_config_is_refused_naming_the_field(string from, string to, string field)
    {
        using var dir = new TempDirectory();
        var ckpt = Copy(dir, "saelens_v6/topk");
        Edit(Path.Combine(ckpt, "cfg.json"), text => text.Replace(from, to).Replace("\"normalize_activations\": \"none\"", "\"normalize_activations\": \"expected_average_only_in\""));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(ckpt));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void A_lone_surrogate_as_a_safetensors_tensor_name_is_refused()
    {
        using var dir = new TempDirectory();
        var header = Encoding.UTF8.GetBytes("{\"W_\\udc00enc\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        var path = dir.File("w.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.File);
        Assert.Contains("a key at byte 1 is not valid Unicode", e.Message);
    }

    [Fact]
    public void A_safetensors_header_with_a_tensor_declared_twice_is_refused()
    {
        using var dir = new TempDirectory();
        var entry = "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        var header = Encoding.UTF8.GetBytes("{" + entry + "," + entry + "}");
        var bytes = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        var path = dir.File("w.safetensors");
        File.WriteAllBytes(path, bytes);
        Assert.Contains("Duplicate property 'w'", Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose()).Message);
    }

    private const string Result = """
        {"eval_type_id": "core", "sae_lens_id": "a",
         "eval_result_metrics": {"reconstruction_quality": {"explained_variance": EV, "mse": 0.5}},
         "saebench_net": {"status": "done", "job_key": "k"}}
        """;

    [Theory]
    [InlineData("1e999")]
    [InlineData("-1e999")]
    public void An_infinite_metric_in_a_result_file_is_left_out_and_reported(string value)
    {
        var problems = new List<ResultProblem>();
        var record = ResultFile.Parse(Result.Replace("EV", value), "core/a_eval_results.json", problems);
        Assert.Null(record.Find("reconstruction_quality.explained_variance"));
        Assert.Equal(0.5, record.Find("reconstruction_quality.mse")!.Value);
        var p = Assert.Single(problems);
        Assert.Contains("eval_result_metrics.reconstruction_quality.explained_variance' is " + value + ", not a finite number", p.ToString());
    }

    [Theory]
    [InlineData("{\"eval_type_id\": \"core\", \"eval_type_id\": \"mdl\", \"sae_lens_id\": \"a\"}", "Duplicate property 'eval_type_id'")]
    [InlineData("{\"eval_type_id\": \"core\\ud800\", \"sae_lens_id\": \"a\"}", "not valid Unicode")]
    [InlineData("{\"eval_type_id\": \"core\", \"sae_lens_id\": \"\\udfff\"}", "after the key 'sae_lens_id'")]
    public void Duplicate_keys_and_invalid_strings_make_a_result_file_malformed(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ResultFile.Parse(json, "f.json", []));
        Assert.Contains(expected, e.Message);
        using var dir = new TempDirectory();
        var path = dir.File("r.json");
        File.WriteAllText(path, json);
        Assert.Null(ResultFile.ReadStamp(path));
    }

    [Theory]
    [InlineData("{\"planned\": [], \"planned\": []}", "Duplicate property")]
    [InlineData("{\"planned\": [{\"eval_type_id\": \"\\ud800\", \"checkpoint_id\": \"a\"}]}", "not valid Unicode")]
    public void A_manifest_with_duplicate_keys_or_invalid_strings_is_malformed(string json, string expected)
    {
        Assert.Contains(expected, Assert.Throws<FormatException>(() => RunManifest.Parse(json)).Message);
    }

    [Fact]
    public void A_result_file_over_the_size_limit_is_refused_before_it_is_read()
    {
        using var dir = new TempDirectory();
        var path = dir.File("huge_eval_results.json");
        using (var f = File.Create(path)) f.SetLength(ResultFile.MaxBytes + 1); // sparse: costs no disk
        Assert.Contains("more than the 256 MiB", Assert.Throws<FormatException>(() => ResultFile.ReadText(path)).Message);
        Assert.Null(ResultFile.ReadStamp(path));
    }
}
