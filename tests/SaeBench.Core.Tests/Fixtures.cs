using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Safetensors;

namespace SaeBench.Core.Tests;

/// <summary>The real-tool checkpoint fixtures copied into this test project (see Fixtures/README.md).</summary>
public static class Fixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints");

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public sealed record ManifestEntry(string Path, string Format, string Architecture, string Expected)
    {
        public override string ToString() => Path;
    }

    public static IReadOnlyList<ManifestEntry> Checkpoints()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("MANIFEST.json")));
        return doc.RootElement.GetProperty("checkpoints").EnumerateArray()
            .Select(e => new ManifestEntry(e.GetProperty("path").GetString()!, e.GetProperty("format").GetString()!,
                e.GetProperty("architecture").GetString()!, e.GetProperty("expected").GetString()!))
            .ToList();
    }

    public static IReadOnlyList<string> Hostile()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("MANIFEST.json")));
        return doc.RootElement.GetProperty("hostile").EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    public static HostMatrix Inputs()
    {
        using var f = SafetensorsFile.Open(PathOf("inputs/x.safetensors"));
        return f.ReadMatrix("x");
    }

    public static (HostMatrix F, HostMatrix XHat) Expected(string relative)
    {
        using var f = SafetensorsFile.Open(PathOf(relative));
        return (f.ReadMatrix("f"), f.ReadMatrix("x_hat"));
    }
}

