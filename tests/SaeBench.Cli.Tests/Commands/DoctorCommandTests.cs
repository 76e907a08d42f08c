using SaeBench.TestKit;
using System.Text.Json;
using SaeBench.Cli;

namespace SaeBench.Cli.Tests.Commands;

public class DoctorCommandTests
{
    private static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, TestCache.Environment(env))).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Reports_the_openblas_backend_cores_and_simd_width()
    {
        var (code, output, _) = Run(null, "doctor", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("openblas_found").GetBoolean(), "CI installs OpenBLAS (scripts/setup.sh)");
        Assert.Contains("OpenBLAS", r.GetProperty("backend").GetString());
        Assert.Equal(Environment.ProcessorCount, r.GetProperty("cores").GetInt32());
        Assert.True(r.GetProperty("simd_width_bits").GetInt32() >= 128);
    }

    [Fact]
    public void Missing_openblas_is_not_an_error_the_fallback_is_named_with_how_to_install()
    {
        var env = new Dictionary<string, string> { ["SAEBENCH_OPENBLAS"] = "/nonexistent/libopenblas.so.0" };
        var (code, output, _) = Run(env, "doctor");
        Assert.Equal(0, code);
        Assert.Contains("GEMM: managed", output);
        Assert.Contains("fallback", output);
        Assert.Contains("apt-get install libopenblas0-pthread", output);
    }

    [Fact]
    public void A_bad_gemm_name_is_reported_by_doctor_and_refused_as_bad_input_elsewhere()
    {
        var env = new Dictionary<string, string> { ["SAEBENCH_GEMM"] = "cublas" };
        var (code, output, _) = Run(env, "doctor");
        Assert.Equal(0, code);
        Assert.Contains("unusable: $SAEBENCH_GEMM: Unknown GEMM 'cublas'", output);
        var (benchCode, _, benchError) = Run(env, "bench", "core", "--d", "8", "--f", "16", "--k", "2", "--tokens", "8", "--batch-rows", "8");
        Assert.Equal(ExitCodes.BadInput, benchCode);
        Assert.Contains("Unknown GEMM 'cublas'", benchError);
        Assert.DoesNotContain("   at ", benchError);
    }

    [Theory]
    [InlineData("--batch-rows", "0")]
    [InlineData("--k", "17")]
    [InlineData("--tokens", "-1")]
    public void Bench_core_refuses_sizes_that_cannot_work(string option, string value)
    {
        var sizes = new Dictionary<string, string> { ["--d"] = "8", ["--f"] = "16", ["--k"] = "2", ["--tokens"] = "8", ["--batch-rows"] = "8" };
        sizes[option] = value;
        var (code, _, error) = Run(null, ["bench", "core", .. sizes.SelectMany(p => new[] { p.Key, p.Value })]);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("must be", error);
    }

    [Fact]
    public void Bench_gemm_json_has_one_line_per_backend_with_gflops()
    {
        var (code, output, _) = Run(null, "bench", "gemm", "--m", "64", "--k", "32", "--n", "48", "--seconds", "0.01", "--json");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.True(doc.RootElement.GetProperty("gflops").GetDouble() > 0);
            Assert.Contains(doc.RootElement.GetProperty("backend").GetString(), new[] { "openblas", "managed" });
        }
    }
}
