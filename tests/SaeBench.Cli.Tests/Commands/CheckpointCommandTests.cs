using SaeBench.TestKit;
using System.Text.Json;
using SaeBench.Cli;
using SaeBench.Core.Safetensors;

namespace SaeBench.Cli.Tests.Commands;

public class CheckpointCommandTests
{
    private static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints");

    /// <summary>Digest cache for this class's runs, so that tests never write into the repository's cache.</summary>
    private static readonly string SharedCache = Directory.CreateTempSubdirectory("saebench-cli-digests-").FullName;

    private static (int Code, string Out, string Err) Run(params string[] args) => RunWithCache(SharedCache, args);

    private static (int Code, string Out, string Err) RunWithCache(string cache, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var environment = new Dictionary<string, string> { ["SAEBENCH_CACHE"] = cache };
        int code = SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, environment, workingDirectory: Fixtures)).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static IEnumerable<JsonElement> Manifest(string key)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "MANIFEST.json")));
        return doc.RootElement.GetProperty(key).EnumerateArray().Select(e => e.Clone()).ToList();
    }

    public static TheoryData<string> Checkpoints() => new(Manifest("checkpoints").Select(e => e.GetProperty("path").GetString()!));

    public static TheoryData<string> Hostile() => new(Manifest("hostile").Select(e => e.GetString()!));

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Inspect_json_reports_format_architecture_widths_and_hash(string path)
    {
        var entry = Manifest("checkpoints").Single(e => e.GetProperty("path").GetString() == path);
        var (code, output, error) = Run("inspect", path, "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(entry.GetProperty("format").GetString(), root.GetProperty("format").GetString());
        Assert.Equal(entry.GetProperty("architecture").GetString(), root.GetProperty("architecture").GetString());
        Assert.Equal(16, root.GetProperty("d_in").GetInt32());
        Assert.Equal(64, root.GetProperty("d_sae").GetInt32());
        Assert.Matches("^[0-9a-f]{64}$", root.GetProperty("sha256").GetString());
        Assert.True(root.GetProperty("decoder_norms").GetProperty("max").GetDouble() > 0);
        // The weights' dtype — not that of a scalar such as dictionary_learning's stored k.
        Assert.Contains(root.GetProperty("dtype").GetString(), new[] { "float32", "float16", "bfloat16", "float64" });
    }

    [Fact]
    public void Inspect_reads_the_weights_once_quick_reads_none_and_no_cache_reads_them_again()
    {
        using var cache = new TempDirectory();
        JsonElement Inspect(params string[] extra)
        {
            var (code, output, error) = RunWithCache(cache.Path, ["inspect", "saelens_v6/jumprelu", "--json", .. extra]);
            Assert.True(code == 0, error);
            using var json = JsonDocument.Parse(output);
            return json.RootElement.Clone();
        }

        var quick = Inspect("--quick");
        Assert.Equal("skipped", quick.GetProperty("scan").GetString());
        Assert.Equal(JsonValueKind.Null, quick.GetProperty("sha256").ValueKind);
        Assert.Equal(JsonValueKind.Null, quick.GetProperty("decoder_norms").ValueKind);
        Assert.Equal(64 * 4, quick.GetProperty("bytes_read").GetInt64()); // the per-latent thresholds only
        Assert.True(quick.GetProperty("threshold").GetProperty("max").GetDouble() > 0);

        var full = Inspect();
        Assert.Equal("full", full.GetProperty("scan").GetString());
        Assert.Matches("^[0-9a-f]{64}$", full.GetProperty("sha256").GetString());
        var again = Inspect();
        Assert.Equal("cached", again.GetProperty("scan").GetString());
        Assert.Equal(64 * 4, again.GetProperty("bytes_read").GetInt64());
        Assert.Equal(full.GetProperty("sha256").GetString(), again.GetProperty("sha256").GetString());
        Assert.Equal(full.GetProperty("decoder_norms").GetRawText(), again.GetProperty("decoder_norms").GetRawText());
        Assert.Equal(full.GetProperty("sha256").GetString(), Inspect("--quick").GetProperty("sha256").GetString());
        Assert.Equal("full", Inspect("--no-cache").GetProperty("scan").GetString());

        var (_, text, _) = RunWithCache(cache.Path, "inspect", "saelens_v6/jumprelu");
        Assert.Contains("weights read:  none: remembered from an earlier read", text);
        var (_, quickText, _) = RunWithCache(cache.Path, "inspect", "saelens_v6/topk", "--quick");
        Assert.Contains("sha256:        — (not read: --quick", quickText);
    }

    [Trait(Category.Name, Category.Slow)]

    [Fact]
    public void Inspecting_a_large_checkpoint_says_what_it_reads_the_first_time_only()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        const int dIn = 4096, dSae = 8192; // 256 MiB of zeros in a sparse file
        File.WriteAllText(Path.Combine(dir.Path, "cfg.json"),
            $"{{\"architecture\": \"relu\", \"d_in\": {dIn}, \"d_sae\": {dSae}, \"apply_b_dec_to_input\": true, \"metadata\": {{}}}}");
        long m = 4L * dIn * dSae;
        var header = System.Text.Encoding.UTF8.GetBytes(
            $"{{\"W_enc\":{{\"dtype\":\"F32\",\"shape\":[{dIn},{dSae}],\"data_offsets\":[0,{m}]}}," +
            $"\"W_dec\":{{\"dtype\":\"F32\",\"shape\":[{dSae},{dIn}],\"data_offsets\":[{m},{2 * m}]}}," +
            $"\"b_enc\":{{\"dtype\":\"F32\",\"shape\":[{dSae}],\"data_offsets\":[{2 * m},{2 * m + 4 * dSae}]}}," +
            $"\"b_dec\":{{\"dtype\":\"F32\",\"shape\":[{dIn}],\"data_offsets\":[{2 * m + 4 * dSae},{2 * m + 4 * dSae + 4 * dIn}]}}}}");
        using (var stream = File.Create(Path.Combine(dir.Path, "sae_weights.safetensors")))
        {
            stream.Write(BitConverter.GetBytes((ulong)header.Length));
            stream.Write(header);
            stream.SetLength(8 + header.Length + 2 * m + 4 * dSae + 4 * dIn);
        }

        var (quickCode, _, quickError) = RunWithCache(cache.Path, "inspect", dir.Path, "--quick");
        Assert.Equal(0, quickCode);
        Assert.DoesNotContain("reading", quickError);
        var (code, output, error) = RunWithCache(cache.Path, "inspect", dir.Path);
        Assert.True(code == 0, error);
        Assert.Contains("reading 256 MiB once for the SHA-256 and the NaN/Inf scan (remembered", error);
        Assert.Contains("weights read:  all, now", output);
        var (_, again, againError) = RunWithCache(cache.Path, "inspect", dir.Path);
        Assert.Equal("", againError);
        Assert.Contains("weights read:  none: remembered", again);
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Encode_writes_the_expected_f_and_x_hat(string path)
    {
        var entry = Manifest("checkpoints").Single(e => e.GetProperty("path").GetString() == path);
        var output = Path.Combine(Path.GetTempPath(), $"saebench-encode-{Guid.NewGuid():N}.safetensors");
        try
        {
            var checkpoint = path.StartsWith("dictionary_learning") ? path + "/ae.pt" : path;
            var (code, _, error) = Run("encode", "--checkpoint", checkpoint, "--input", "inputs/x.safetensors", "--output", output);
            Assert.True(code == 0, error);
            using var expected = SafetensorsFile.Open(Path.Combine(Fixtures, entry.GetProperty("expected").GetString()!));
            using var actual = SafetensorsFile.Open(output);
            foreach (var name in new[] { "f", "x_hat" })
            {
                Assert.Equal(SafetensorsDType.F32, actual.Info(name).DType);
                Assert.Equal(expected.Info(name).Shape, actual.Info(name).Shape);
                var e = expected.ReadSingle(name);
                var a = actual.ReadSingle(name);
                for (int i = 0; i < e.Length; i++)
                    Assert.True(Math.Abs(e[i] - a[i]) <= 1e-4, $"{name}[{i}]: expected {e[i]}, got {a[i]}");
            }
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Every_hostile_fixture_is_refused_with_a_clear_message_and_exit_code_2(string path)
    {
        var (code, _, error) = Run("inspect", path);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(Path.GetFileName(path), error);
        Assert.DoesNotContain("   at ", error); // one clear line, not a stack trace

        var output = Path.Combine(Path.GetTempPath(), $"saebench-hostile-{Guid.NewGuid():N}.safetensors");
        var (encodeCode, _, encodeError) = Run("encode", "--checkpoint", path, "--input", "inputs/x.safetensors", "--output", output);
        Assert.Equal(ExitCodes.BadInput, encodeCode);
        Assert.Contains(Path.GetFileName(path), encodeError);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Nan_weights_are_reported_when_allowed()
    {
        var (code, output, _) = Run("inspect", "hostile/nan_weights", "--allow-non-finite", "--json");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        Assert.NotEmpty(json.RootElement.GetProperty("non_finite").EnumerateObject());
        Assert.Contains("non-finite", json.RootElement.GetProperty("warnings")[0].GetString());
    }

    [Fact]
    public void Encode_refuses_an_input_of_the_wrong_width_naming_the_tensor()
    {
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "acts.safetensors");
        SafetensorsWriter.Write(input, [SafetensorsTensor.F32("acts", new float[2 * 3 * 15], 2, 3, 15)]);
        var (code, _, error) = Run("encode", "--checkpoint", "saelens_v6/topk", "--input", input, "--output", Path.Combine(dir.Path, "o.safetensors"));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("acts: shape [2, 3, 15] does not end in the SAE's d_in = 16", error);
    }

    [Fact]
    public void Encode_keeps_leading_dimensions_and_picks_a_named_tensor()
    {
        using var dir = new TempDirectory();
        var input = Path.Combine(dir.Path, "acts.safetensors");
        SafetensorsWriter.Write(input, [SafetensorsTensor.F32("other", [1f], 1), SafetensorsTensor.F32("acts", new float[2 * 3 * 16], 2, 3, 16)]);
        var output = Path.Combine(dir.Path, "o.safetensors");
        Assert.Equal(ExitCodes.BadInput, Run("encode", "--checkpoint", "saelens_v6/topk", "--input", input, "--output", output).Code);
        var (code, _, error) = Run("encode", "--checkpoint", "saelens_v6/topk", "--input", input, "--tensor", "acts", "--output", output);
        Assert.True(code == 0, error);
        using var result = SafetensorsFile.Open(output);
        Assert.Equal(new long[] { 2, 3, 64 }, result.Info("f").Shape);
        Assert.Equal(new long[] { 2, 3, 16 }, result.Info("x_hat").Shape);
    }

    [Fact]
    public void List_checkpoints_scans_a_directory()
    {
        var (code, output, _) = Run("list", "checkpoints", "--dir", ".", "--json");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(13, json.RootElement.GetProperty("entries").GetArrayLength());
    }

    [Fact]
    public void List_checkpoints_from_a_config_warns_on_an_empty_glob_and_fails_on_a_missing_path()
    {
        using var dir = new TempDirectory();
        var config = Path.Combine(dir.Path, "run.yaml");
        File.WriteAllText(config, $"""
            checkpoints:
              - path: {Path.Combine(Fixtures, "saelens_v6", "topk")}
                id: tk
                tags: {"{"}architecture: topk, width: 64{"}"}
              - glob: "nothing/*/cfg.json"
            """);
        var (code, output, error) = Run("list", "checkpoints", "--config", config);
        Assert.Equal(0, code);
        Assert.Contains("tk", output);
        Assert.Contains("architecture=topk", output);
        Assert.Contains("warning:", error);
        Assert.Contains("matches nothing", error);

        File.AppendAllText(config, "\n  - path: missing/dir\n");
        (code, output, error) = Run("list", "checkpoints", "--config", config);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("tk", output);
        Assert.Contains("checkpoints[2].path", error);
        Assert.Contains("does not exist", error);
    }

    [Fact]
    public void A_malformed_config_is_bad_input_naming_the_field()
    {
        using var dir = new TempDirectory();
        var config = Path.Combine(dir.Path, "run.yaml");
        File.WriteAllText(config, "checkpoints:\n  - pth: x\n");
        var (code, _, error) = Run("list", "checkpoints", "--config", config);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("run.yaml: checkpoints[0].pth", error);
    }
}
