using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Text.Json.Nodes;

namespace SaeBench.Reporting.Rendering;

/// <summary>One spec to render and where its images go.</summary>
public sealed record RenderJob(string SpecPath, string SvgPath, string PngPath);

/// <summary>Renders Vega-Lite specs to SVG and 2× PNG with render.mjs (vega + vega-lite + resvg), all in one Node process.</summary>
public static class FigureRenderer
{
    /// <summary>Fonts resvg is given for text, first existing wins (Debian fonts-dejavu-core).</summary>
    public static readonly IReadOnlyList<string> DefaultFontFiles =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ];

    /// <summary>Renders every job; returns one message per spec that failed (empty when all succeeded).</summary>
    public static IReadOnlyList<string> Render(NodePackages packages, IReadOnlyList<RenderJob> jobs, IReadOnlyList<string>? fontFiles, TextWriter log)
    {
        if (jobs.Count == 0) return [];
        var fonts = (fontFiles ?? DefaultFontFiles).Where(File.Exists).ToList();
        if (fonts.Count == 0)
            log.WriteLine("report: warning: no DejaVu font found; text in PNGs uses system fonts and may be missing (install fonts-dejavu-core, e.g. via scripts/setup.sh)");
        var jobFile = Path.Combine(Path.GetTempPath(), $"saebench-render-{Guid.NewGuid():N}.json");
        var o = new JsonObject
        {
            ["scale"] = 2,
            ["defaultFontFamily"] = "DejaVu Sans",
            ["fontFiles"] = new JsonArray(fonts.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray()),
            ["specs"] = new JsonArray(jobs.Select(j => (JsonNode?)new JsonObject
            {
                ["spec"] = Path.GetFullPath(j.SpecPath),
                ["svg"] = Path.GetFullPath(j.SvgPath),
                ["png"] = Path.GetFullPath(j.PngPath),
            }).ToArray()),
        };
        File.WriteAllText(jobFile, o.ToJsonString());
        try
        {
            var run = ProcessRunner.Run(packages.NodeExecutable, [packages.Script, jobFile], packages.Directory, TimeSpan.FromMinutes(5));
            if (run is null) return [$"Node.js ('{packages.NodeExecutable}') could not be started"];
            var errors = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("error ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();
            if (run.ExitCode != 0 && errors.Count == 0)
                errors.Add($"render.mjs exited {run.ExitCode}{(run.TimedOut ? " (timed out)" : "")}: {run.StandardError.Trim()}");
            return errors;
        }
        finally { File.Delete(jobFile); }
    }
}
