using System.Text.Json.Nodes;
using System.Globalization;
using SaeBench.Core.Configuration;
using SaeBench.Core.Results;
using SaeBench.Reporting;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Findings;
using SaeBench.Reporting.Rendering;
using SaeBench.Reporting.Results;

namespace SaeBench.Harness;

/// <summary>What <c>saebench paper</c> did: the run it made and the findings it wrote — none when the run was interrupted
/// (findings from a part of the suite would read as verdicts on all of it).</summary>
public sealed record PaperOutcome(RunOutcome Run, PaperFindings? Findings, string? FindingsPath, TimeSpan WallTime, IReadOnlyList<string> Warnings)
{
    /// <summary>Stopped (Ctrl-C) during the evaluations: the finished results are kept, no findings were written.</summary>
    public bool Interrupted => Run.Manifest.Interrupted;
}

/// <summary>
/// <c>saebench paper</c> as a library: train the <c>paper</c> suite (or the suite the request names), run the evaluators the
/// three claims need through <see cref="RunPipeline"/> (same validation, caching and report), then test the claims on the
/// result files alone (<see cref="PaperFindingsBuilder"/>) and write <c>findings.md</c> with its figures into the output
/// directory (<c>figures/paper_*.vl.json</c>, <c>.svg</c>, <c>.png</c>).
/// </summary>
public sealed class PaperPipeline(HarnessEnvironment environment)
{
    public const string FindingsFile = "findings.md";

    /// <summary>The evaluators the claims read: reconstruction/dead latents/L0 (core), absorption (whichever task the model
    /// has; the other is not applicable), description length (mdl).</summary>
    public static IReadOnlyList<string> Evaluators { get; } = ["core", "absorption_first_letter", "absorption_hierarchy", "mdl"];

    /// <summary>The run of the paper suite. <paramref name="mdlFvuTarget"/> is the MDL evaluator's common distortion target
    /// as well as the one the findings use, so the two never disagree.</summary>
    public static RunConfig Configure(RunConfig config, string outputDirectory, string suite = "paper",
        double mdlFvuTarget = MdlSelection.DefaultFvuTarget) => config with
    {
        Suite = suite,
        Checkpoints = null,
        Evaluators = Evaluators.Select(id => new EvaluatorRequest(id,
            id == "mdl" ? new JsonObject { ["fvu_target"] = mdlFvuTarget } : [])).ToList(),
        Output = outputDirectory,
    };

    public PaperOutcome Run(RunRequest request, double mdlFvuTarget = MdlSelection.DefaultFvuTarget, HarnessDisplays? displays = null,
        CancellationToken cancellation = default)
    {
        long start = environment.Clock.GetTimestamp();
        var run = new RunPipeline(environment).Run(request, displays, cancellation);
        if (run.Manifest.Interrupted) return new PaperOutcome(run, null, null, environment.Clock.GetElapsedTime(start), []);
        var results = ResultReader.Load(run.OutputDirectory);
        var findings = PaperFindingsBuilder.Build(results, mdlFvuTarget);
        var warnings = new List<string>();
        bool rendered = WriteFigures(findings.Figures, Path.Combine(run.OutputDirectory, ReportBuilder.FiguresFolder), request.RenderImages, warnings);
        var wall = environment.Clock.GetElapsedTime(start);
        var how = new List<string>
        {
            $"Model: {run.Model.Id} ({run.Model.Hook}, d_model {run.Model.DModel}); suite `{request.Config.Suite}` " +
            $"({run.Checkpoints} checkpoints including baselines); evaluators {string.Join(", ", Evaluators)}.",
            string.Create(CultureInfo.InvariantCulture, $"Wall time of this `saebench paper` run: {wall.TotalMinutes:0.0} min (training members already in the cache and finished evaluations are reused)."),
            string.Create(CultureInfo.InvariantCulture, $"Distortion target for the MDL claim: FVU ≤ {mdlFvuTarget}."),
            "Every number above is in the result files under `eval_results/`; `report.html` and `summary.md` in this directory show all of them.",
        };
        string path = Path.Combine(run.OutputDirectory, FindingsFile);
        string markdown = PaperFindingsBuilder.Markdown(findings, how,
            name => $"{ReportBuilder.FiguresFolder}/{name}.{(rendered ? "png" : "vl.json")}");
        AtomicFile.WriteAllText(path, markdown);
        return new PaperOutcome(run, findings, path, wall, warnings);
    }

    /// <summary>Writes each figure's Vega-Lite spec and, when asked, SVG and PNG; true when every image was drawn.</summary>
    private static bool WriteFigures(IReadOnlyList<Figure> figures, string directory, bool renderImages, List<string> warnings)
    {
        Directory.CreateDirectory(directory);
        foreach (var f in figures) AtomicFile.WriteAllText(Path.Combine(directory, f.Name + ".vl.json"), f.ToVegaLiteJson());
        if (!renderImages) return false;
        using var fonts = FigureFonts.Load();
        if (fonts.Warning is { } w) warnings.Add(w);
        var renderer = new ScottPlotRenderer(fonts);
        bool all = true;
        foreach (var f in figures)
        {
            try
            {
                renderer.Render(f, Path.Combine(directory, f.Name + ".svg"), Path.Combine(directory, f.Name + ".png"));
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                all = false;
                warnings.Add($"figure {f.Name}: {e.Message}");
            }
        }
        return all;
    }
}
