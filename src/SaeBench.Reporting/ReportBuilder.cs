using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Html;
using SaeBench.Reporting.Rendering;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tables;

namespace SaeBench.Reporting;

/// <summary>How a report is built.</summary>
/// <param name="MdlFvuTarget">MDL-optimal = smallest description length among checkpoints with <c>mdl.fvu</c> ≤ this.</param>
/// <param name="RenderImages">Draw each figure as SVG and 300-dpi PNG (in process, with ScottPlot); false writes the
/// Vega-Lite specs only.</param>
public sealed record ReportOptions(
    double MdlFvuTarget = MdlSelection.DefaultFvuTarget,
    bool RenderImages = true);

/// <summary>What a report build wrote and what it could not do.</summary>
/// <param name="Files">Every file written, relative to the output directory.</param>
/// <param name="ImagesRendered">True when SVG/PNG images were rendered for every figure.</param>
/// <param name="ImageNote">Why images are missing (switched off, or a font is missing); null when all is there.</param>
/// <param name="Warnings">Skipped files and rendering errors, each naming the file.</param>
public sealed record ReportOutcome(
    ResultSet Results,
    string OutputDirectory,
    IReadOnlyList<string> Files,
    bool ImagesRendered,
    string? ImageNote,
    IReadOnlyList<string> Warnings);

/// <summary>Builds the tables, figures and report of a results directory from the result files alone.
/// The runner calls this at the end of <c>saebench run</c>; <c>saebench report</c> calls it to rebuild.</summary>
public static class ReportBuilder
{
    public const string TidyCsv = "metrics_tidy.csv";
    public const string WideCsv = "metrics_wide.csv";
    public const string Summary = "summary.md";
    public const string Manifest = "manifest.json";
    public const string Html = "report.html";
    public const string FiguresFolder = "figures";

    /// <summary>Reads <paramref name="resultsDir"/> (shards merged) and writes everything into <paramref name="outDir"/>.
    /// Throws <see cref="ResultsInputException"/> when there is nothing to read; a malformed file is a warning.</summary>
    public static ReportOutcome Build(string resultsDir, string outDir, ReportOptions options, TextWriter? log = null)
        => Build(ResultReader.Load(resultsDir), outDir, options, log);

    public static ReportOutcome Build(ResultSet results, string outDir, ReportOptions options, TextWriter? log = null)
    {
        log ??= TextWriter.Null;
        Core.Results.AtomicFile.CheckWritable(outDir); // an unwritable output is an EnvironmentFailureException saying what to do
        var files = new List<string>();
        var warnings = results.Problems.Select(p => p.ToString()).ToList();
        var figureOptions = new FigureOptions(options.MdlFvuTarget);

        WriteAtomic(outDir, TidyCsv, w => CsvTables.WriteTidy(results, w), files);
        WriteAtomic(outDir, WideCsv, w => CsvTables.WriteWide(results, w), files);
        // The merged manifest: always when reporting elsewhere, and in place when shards wrote manifest.shard-I-of-N.json
        // (merging is idempotent, so a manifest.json from an earlier report does not double-count).
        bool shards = Directory.EnumerateFiles(results.Root, "manifest.shard-*.json").Any();
        if (results.Manifest is { } manifest && (shards || !SamePath(Path.Combine(results.Root, Manifest), Path.Combine(outDir, Manifest))))
            WriteAtomic(outDir, Manifest, w => w.Write(manifest.ToJsonString()), files);

        var figures = FigureBuilder.All(results, figureOptions);
        var figuresDir = Path.Combine(outDir, FiguresFolder);
        Directory.CreateDirectory(figuresDir);
        Core.Results.AtomicFile.CleanOrphans(figuresDir); // temp images of a report that was killed mid-way (never another's in flight)
        RemoveFigureFiles(figuresDir);
        foreach (var f in figures)
            WriteAtomic(outDir, Path.Combine(FiguresFolder, f.Name + ".vl.json"), w => w.Write(f.ToVegaLiteJson()), files);

        string? note = null;
        bool rendered = false;
        if (!options.RenderImages)
            note = "image rendering switched off; the Vega-Lite specs are in figures/";
        else
        {
            using var fonts = FigureFonts.Load();
            if (fonts.Warning is { } w) { note = w; log.WriteLine("report: warning: " + w); }
            var renderer = new ScottPlotRenderer(fonts);
            int failures = 0;
            foreach (var f in figures)
            {
                string svg = Path.Combine(figuresDir, f.Name + ".svg"), png = Path.Combine(figuresDir, f.Name + ".png");
                try
                {
                    renderer.Render(f, svg, png);
                    files.Add($"{FiguresFolder}/{f.Name}.svg");
                    files.Add($"{FiguresFolder}/{f.Name}.png");
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or UnauthorizedAccessException)
                {
                    failures++;
                    warnings.Add($"figure {f.Name}: {e.Message}");
                }
            }
            rendered = failures == 0;
        }

        var figureLinks = figures.Select(f => rendered ? $"{FiguresFolder}/{f.Name}.svg" : $"{FiguresFolder}/{f.Name}.vl.json").ToList();
        WriteAtomic(outDir, Summary, w => w.Write(SummaryMarkdown.Build(results, figureOptions, rendered ? figures.Select(f => $"{FiguresFolder}/{f.Name}.png").ToList() : figureLinks)), files);
        WriteAtomic(outDir, Html, w => w.Write(HtmlReport.Build(results, figureOptions, ScriptLibraries.Embedded, note, figureLinks)), files);
        return new ReportOutcome(results, outDir, files, rendered, note, warnings);
    }

    /// <summary>Writes through a temporary file in the same folder and renames, so readers never see half a file.</summary>
    private static void WriteAtomic(string outDir, string relative, Action<TextWriter> write, List<string> files)
    {
        Core.Results.AtomicFile.Write(Path.Combine(outDir, relative), stream =>
        {
            using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
            write(w);
        });
        files.Add(relative.Replace(Path.DirectorySeparatorChar, '/'));
    }

    /// <summary>
    /// Removes the figure files (<c>*.vl.json</c>, <c>*.svg</c>, <c>*.png</c>) an earlier build left, so that a figure
    /// this build no longer draws, or an image whose rendering now fails, is not shown or listed as current.
    /// </summary>
    private static void RemoveFigureFiles(string figuresDir)
    {
        foreach (var file in Directory.EnumerateFiles(figuresDir))
            if (file.EndsWith(".vl.json", StringComparison.Ordinal) || file.EndsWith(".svg", StringComparison.Ordinal) || file.EndsWith(".png", StringComparison.Ordinal))
                File.Delete(file);
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
