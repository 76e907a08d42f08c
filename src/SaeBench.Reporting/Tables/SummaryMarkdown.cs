using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Globalization;
using System.Text;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Tables;

/// <summary><c>summary.md</c>: what was found, what failed, the headline metrics per checkpoint, the MDL-optimal checkpoint.</summary>
public static class SummaryMarkdown
{
    public static string Build(ResultSet results, FigureOptions options, IReadOnlyList<string>? figureFiles = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# SaeBench.Net results summary").AppendLine();
        var byStatus = results.Results.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count());
        sb.AppendLine($"- Checkpoints: {results.Checkpoints.Count}");
        sb.AppendLine($"- Evaluators: {string.Join(", ", results.Results.Select(r => r.EvalTypeId).Distinct().Order(StringComparer.Ordinal).Select(Code))}");
        sb.AppendLine($"- Result files used: {results.Results.Count} (done {byStatus.GetValueOrDefault(JobStatus.Done)}, " +
                      $"failed {byStatus.GetValueOrDefault(JobStatus.Failed)}, not applicable {byStatus.GetValueOrDefault(JobStatus.NotApplicable)})");
        if (results.Manifest is { } m)
            sb.AppendLine($"- Manifest: planned {m.Planned.Count}, done {m.Done.Count}, skipped {m.Skipped.Count}, failed {m.Failed.Count}, " +
                          $"not applicable {m.NotApplicable.Count}{(m.Interrupted ? ", interrupted (re-run to resume)" : "")}");
        else
            sb.AppendLine("- Manifest: none found (this summary is built from the result files alone)");
        var optimal = MdlSelection.Optimal(results, options.MdlFvuTarget);
        var target = options.MdlFvuTarget.ToString("R", CultureInfo.InvariantCulture);
        sb.AppendLine(optimal is null
            ? $"- MDL-optimal checkpoint: none (no MDL result with FVU ≤ {target})"
            : $"- MDL-optimal checkpoint (smallest description length with FVU ≤ {target}): {Code(optimal)}");
        sb.AppendLine();

        if (results.Problems.Count > 0)
        {
            sb.AppendLine("## Files skipped or questionable").AppendLine();
            foreach (var p in results.Problems) sb.AppendLine($"- {Code(p.File)}: {Cell(p.Message)}");
            sb.AppendLine();
        }

        var notDone = results.Results.Where(r => r.Status != JobStatus.Done).ToList();
        var manifestFailures = results.Manifest?.Failed.Where(f => !notDone.Any(r => r.EvalTypeId == f.Job.EvalTypeId && r.Checkpoint.Id == f.Job.CheckpointId)).ToList() ?? [];
        if (notDone.Count > 0 || manifestFailures.Count > 0)
        {
            sb.AppendLine("## Jobs not done").AppendLine();
            sb.AppendLine("| evaluator | checkpoint | status | reason |").AppendLine("|---|---|---|---|");
            foreach (var r in notDone) sb.AppendLine($"| {Cell(r.EvalTypeId)} | {Cell(r.Checkpoint.Id)} | {JobStatuses.Name(r.Status)} | {Cell(r.Error ?? "")} |");
            foreach (var f in manifestFailures) sb.AppendLine($"| {Cell(f.Job.EvalTypeId)} | {Cell(f.Job.CheckpointId)} | failed (manifest) | {Cell(f.Error ?? "")} |");
            sb.AppendLine();
        }

        var headline = new List<(string Title, MetricKey Key)> { ("L0", HeadlineMetrics.L0) };
        headline.AddRange(HeadlinePanels.For(results).Select(h => (h.PanelTitle, h.Key)));
        headline = headline.Where(h => results.HasValues(h.Key)).ToList();
        if (headline.Count > 0)
        {
            sb.AppendLine("## Headline metrics").AppendLine();
            sb.Append("| checkpoint | architecture | width |");
            foreach (var h in headline) sb.Append(' ').Append(Cell(results.Descriptor(h.Key)?.Unit is { Length: > 0 } u ? $"{h.Title} ({u})" : h.Title)).Append(" |");
            sb.AppendLine();
            sb.Append("|---|---|---|").AppendLine(string.Concat(headline.Select(_ => "---:|")));
            foreach (var c in results.Checkpoints)
            {
                var name = c.Id == optimal ? $"{Cell(c.Id)} (MDL-optimal)" : Cell(c.Id);
                sb.Append($"| {name} | {Cell(c.Architecture ?? "")} | {Cell(c.Width ?? "")} |");
                foreach (var h in headline) sb.Append(' ').Append(Format(results.Value(c.Id, h.Key))).Append(" |");
                sb.AppendLine();
            }
            sb.AppendLine();
        }
        var meanings = MetricMeanings.For(results);
        if (meanings.Count > 0)
        {
            sb.AppendLine("## What the metrics measure here").AppendLine();
            foreach (var meaning in meanings) sb.AppendLine($"- {meaning}");
            sb.AppendLine();
        }
        sb.Append(UnlearningTable.Markdown(results));
        sb.AppendLine("Every metric of every evaluator: `metrics_tidy.csv` (one row per checkpoint × evaluator × metric) and `metrics_wide.csv` (one row per checkpoint).");
        if (figureFiles is { Count: > 0 })
        {
            sb.AppendLine().AppendLine("## Figures").AppendLine();
            foreach (var f in figureFiles) sb.AppendLine($"- [{Cell(f)}]({f})");
        }
        return sb.ToString();
    }

    /// <summary>Four significant digits, invariant culture; an en dash for undefined.</summary>
    public static string Format(double? v) => v is { } d ? d.ToString("G4", CultureInfo.InvariantCulture) : "–";

    /// <summary>Text safe inside a Markdown table cell: pipes and HTML-significant characters escaped, no newlines.</summary>
    public static string Cell(string s) => s
        .Replace("\\", "\\\\").Replace("|", "\\|").Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")
        .Replace("\r", " ").Replace("\n", " ");

    private static string Code(string s) => "`" + s.Replace("`", "'").Replace("\n", " ") + "`";
}
