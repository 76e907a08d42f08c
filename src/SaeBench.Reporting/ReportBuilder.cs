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
/// <param name="RenderImages">Render SVG/PNG with Node.js (false: specs and a table-only report, no Node needed).</param>
/// <param name="Node">Where Node.js, npm and the npm package cache are.</param>
/// <param name="FontFiles">Fonts for PNG text; null = <see cref="FigureRenderer.DefaultFontFiles"/>.</param>
public sealed record ReportOptions(
    double MdlFvuTarget = MdlSelection.DefaultFvuTarget,
    bool RenderImages = true,
    NodeOptions? Node = null,
    IReadOnlyList<string>? FontFiles = null);

/// <summary>What a report build wrote and what it could not do.</summary>
/// <param name="Files">Every file written, relative to the output directory.</param>
/// <param name="ImagesRendered">True when SVG/PNG images were rendered for every figure.</param>
/// <param name="ImageNote">Why images (or the interactive chart) are missing and how to get them; null when all is there.</param>
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
        Directory.CreateDirectory(outDir);
        var files = new List<string>();
        var warnings = results.Problems.Select(p => p.ToString()).ToList();
        var figureOptions = new FigureOptions(options.MdlFvuTarget);

        WriteAtomic(outDir, TidyCsv, w => CsvTables.WriteTidy(results, w), files);
        WriteAtomic(outDir, WideCsv, w => CsvTables.WriteWide(results, w), files);
        if (results.Manifest is { } manifest && !SamePath(Path.Combine(results.Root, Manifest), Path.Combine(outDir, Manifest)))
            WriteAtomic(outDir, Manifest, w => w.Write(manifest.ToJsonString()), files);

        var figures = FigureBuilder.All(results, figureOptions);
        var figuresDir = Path.Combine(outDir, FiguresFolder);
        Directory.CreateDirectory(figuresDir);
        RemoveFigureFiles(figuresDir);
        var jobs = new List<RenderJob>();
        foreach (var f in figures)
        {
            var rel = Path.Combine(FiguresFolder, f.Name + ".vl.json");
            WriteAtomic(outDir, rel, w => w.Write(f.ToJson()), files);
            jobs.Add(new RenderJob(Path.Combine(outDir, rel), Path.Combine(figuresDir, f.Name + ".svg"), Path.Combine(figuresDir, f.Name + ".png")));
        }

        NodePackages? packages = null;
        string? note = null;
        bool rendered = false;
        if (!options.RenderImages)
            note = "image rendering switched off; the Vega-Lite specs are in figures/";
        else if (!NodeToolchain.TryPrepare(options.Node ?? new NodeOptions(), log, out packages, out var reason))
            note = reason;
        else
        {
            var errors = FigureRenderer.Render(packages!, jobs, options.FontFiles, log);
            foreach (var e in errors) warnings.Add("figure " + e);
            rendered = errors.Count == 0;
            foreach (var j in jobs)
            {
                if (File.Exists(j.SvgPath)) files.Add(Path.GetRelativePath(outDir, j.SvgPath));
                if (File.Exists(j.PngPath)) files.Add(Path.GetRelativePath(outDir, j.PngPath));
            }
        }

        var figureLinks = figures.Select(f => rendered ? $"{FiguresFolder}/{f.Name}.svg" : $"{FiguresFolder}/{f.Name}.vl.json").ToList();
        WriteAtomic(outDir, Summary, w => w.Write(SummaryMarkdown.Build(results, figureOptions, rendered ? figures.Select(f => $"{FiguresFolder}/{f.Name}.png").ToList() : figureLinks)), files);

        ScriptLibraries? libraries = null;
        if (packages is not null)
        {
            try { libraries = ScriptLibraries.Load(packages); }
            catch (IOException e) { note = "JavaScript libraries unreadable in " + packages.Directory + ": " + e.Message; }
        }
        WriteAtomic(outDir, Html, w => w.Write(HtmlReport.Build(results, figureOptions, libraries, note, figureLinks)), files);
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
