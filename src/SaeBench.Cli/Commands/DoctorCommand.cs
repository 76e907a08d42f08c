using System.CommandLine;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Reporting.Rendering;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench doctor</c>: what this machine offers the harness, and how to get what is missing.</summary>
public static class DoctorCommand
{
    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var command = new Command("doctor", "Show the compute backend in use (OpenBLAS or the managed fallback), cores, SIMD width, CUDA, and the font the figures are drawn with.")
        {
            json,
        };
        command.SetAction(parse =>
        {
            var report = Diagnose(context);
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            else
                Print(context.Out, report);
            return ExitCodes.Success;
        });
        return command;
    }

    public sealed record DoctorReport(
        string Backend,
        bool OpenblasFound,
        string? OpenblasLibrary,
        string? OpenblasConfig,
        string OpenblasNote,
        string GemmForced,
        int Cores,
        int SimdWidthBits,
        bool Avx2,
        bool Fma,
        bool Avx512,
        string Cuda,
        string Figures,
        string Runtime);

    public static DoctorReport Diagnose(CliContext context)
    {
        bool found = OpenBlas.TryLoad(context.Environment(CpuBackendOptions.OpenBlasEnvironmentVariable), out var lib, out var reason);
        var forced = context.Environment(CpuBackendOptions.GemmEnvironmentVariable) ?? "";
        string backend;
        try
        {
            // Ask the backend the commands would get rather than guess it.
            backend = "cpu, GEMM: " + Harness.BackendCatalog.Cpu(context.Harness).Gemm.Name + (found ? "" : " — fallback, OpenBLAS missing");
        }
        catch (Core.BadInputException e)
        {
            backend = "unusable: " + e.Message;
        }
        CudaBackend.TryCreate(out _, out var cuda);
        return new DoctorReport(
            backend,
            found,
            lib?.LibraryName,
            lib?.Config,
            reason,
            string.IsNullOrEmpty(forced) ? "no" : forced,
            Environment.ProcessorCount,
            Vector<float>.Count * 32,
            System.Runtime.Intrinsics.X86.Avx2.IsSupported,
            System.Runtime.Intrinsics.X86.Fma.IsSupported,
            Vector512.IsHardwareAccelerated,
            cuda,
            FigureFonts.Describe(),
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }

    private static void Print(TextWriter o, DoctorReport r)
    {
        o.WriteLine($"backend:       {r.Backend}");
        o.WriteLine($"openblas:      {(r.OpenblasFound ? $"found ({r.OpenblasLibrary}; {r.OpenblasConfig})" : "not found")}");
        if (!r.OpenblasFound) o.WriteLine($"               {r.OpenblasNote}");
        o.WriteLine($"gemm forced:   {r.GemmForced} (set {CpuBackendOptions.GemmEnvironmentVariable}=managed|openblas|auto)");
        o.WriteLine($"cores:         {r.Cores}");
        o.WriteLine($"simd width:    {r.SimdWidthBits} bits (AVX2 {Yes(r.Avx2)}, FMA {Yes(r.Fma)}, AVX-512 {Yes(r.Avx512)})");
        o.WriteLine($"cuda:          {r.Cuda}");
        o.WriteLine($"figures:       {r.Figures}");
        o.WriteLine($"runtime:       {r.Runtime}");
    }

    private static string Yes(bool b) => b ? "yes" : "no";
}
