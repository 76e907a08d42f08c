using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using SaeBench.Reporting.Tables;

namespace SaeBench.Reporting.Comparison;

/// <summary>Writes a <see cref="RunComparison"/> as Markdown (for people) and JSON (for tools) from the same rows.</summary>
public static class ComparisonWriter
{
    public const string MarkdownFile = "comparison.md";
    public const string JsonFile = "comparison.json";

    public static string Markdown(RunComparison cmp)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Run comparison").AppendLine();
        sb.AppendLine($"- Baseline: `{cmp.BaselineRoot}`");
        sb.AppendLine($"- Candidate: `{cmp.CandidateRoot}`");
        sb.AppendLine($"- Tolerance: a metric regressed when it moved in its worse direction by more than " +
                      $"{F(cmp.Options.Tolerance)} × |baseline| + {F(cmp.Options.AbsoluteTolerance)}; metrics with no direction are informational");
        var counts = cmp.Metrics.GroupBy(m => m.Status).ToDictionary(g => g.Key, g => g.Count());
        sb.AppendLine($"- Result: **{(cmp.HasRegressions ? "REGRESSED" : "no regression")}** — " +
                      string.Join(", ", Enum.GetValues<DiffStatus>().Select(s => $"{s.ToString().ToLowerInvariant()} {counts.GetValueOrDefault(s)}")));
        sb.AppendLine();

        void Section(string title, IEnumerable<MetricDiff> rows)
        {
            var list = rows.ToList();
            if (list.Count == 0) return;
            sb.AppendLine($"## {title}").AppendLine();
            sb.AppendLine("| checkpoint | evaluator | metric | direction | baseline | candidate | delta |").AppendLine("|---|---|---|---|---:|---:|---:|");
            foreach (var m in list)
                sb.AppendLine($"| {SummaryMarkdown.Cell(m.CheckpointId)} | {SummaryMarkdown.Cell(m.EvalTypeId)} | {SummaryMarkdown.Cell(Label(m))} | " +
                              $"{Direction(m.HigherIsBetter)} | {SummaryMarkdown.Format(m.Baseline)} | {SummaryMarkdown.Format(m.Candidate)} | {SummaryMarkdown.Format(m.Delta)} |");
            sb.AppendLine();
        }
        Section("Regressions", cmp.Regressions);
        if (cmp.StatusChanges.Count > 0)
        {
            sb.AppendLine("## Job status changes").AppendLine();
            sb.AppendLine("| checkpoint | evaluator | baseline | candidate | regression | error |").AppendLine("|---|---|---|---|---|---|");
            foreach (var s in cmp.StatusChanges)
                sb.AppendLine($"| {SummaryMarkdown.Cell(s.CheckpointId)} | {SummaryMarkdown.Cell(s.EvalTypeId)} | {s.BaselineStatus} | {s.CandidateStatus} | {(s.IsRegression ? "yes" : "no")} | {SummaryMarkdown.Cell(s.CandidateError ?? "")} |");
            sb.AppendLine();
        }
        Section("Improvements", cmp.Metrics.Where(m => m.Status == DiffStatus.Improved));
        Section("Informational changes (no direction, or newly defined)", cmp.Metrics.Where(m => m.Status == DiffStatus.Changed));
        Section("Metrics in one run only", cmp.Metrics.Where(m => m.Status is DiffStatus.Added or DiffStatus.Removed));
        if (cmp.OnlyInBaseline.Count > 0 || cmp.OnlyInCandidate.Count > 0)
        {
            sb.AppendLine("## Checkpoints in one run only").AppendLine();
            foreach (var c in cmp.OnlyInBaseline) sb.AppendLine($"- baseline only: `{c.Replace("`", "'")}`");
            foreach (var c in cmp.OnlyInCandidate) sb.AppendLine($"- candidate only: `{c.Replace("`", "'")}`");
            sb.AppendLine();
        }
        if (cmp.BaselineProblems.Count + cmp.CandidateProblems.Count > 0)
        {
            sb.AppendLine("## Files skipped").AppendLine();
            foreach (var p in cmp.BaselineProblems) sb.AppendLine($"- baseline `{p.File}`: {SummaryMarkdown.Cell(p.Message)}");
            foreach (var p in cmp.CandidateProblems) sb.AppendLine($"- candidate `{p.File}`: {SummaryMarkdown.Cell(p.Message)}");
            sb.AppendLine();
        }
        sb.AppendLine($"Unchanged metrics: {counts.GetValueOrDefault(DiffStatus.Unchanged)} (listed in `{JsonFile}`).");
        return sb.ToString();
    }

    public static string Json(RunComparison cmp)
    {
        var o = new JsonObject
        {
            ["baseline"] = cmp.BaselineRoot,
            ["candidate"] = cmp.CandidateRoot,
            ["tolerance"] = cmp.Options.Tolerance,
            ["absolute_tolerance"] = cmp.Options.AbsoluteTolerance,
            ["regressed"] = cmp.HasRegressions,
            ["only_in_baseline"] = new JsonArray(cmp.OnlyInBaseline.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["only_in_candidate"] = new JsonArray(cmp.OnlyInCandidate.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["status_changes"] = new JsonArray(cmp.StatusChanges.Select(s => (JsonNode?)new JsonObject
            {
                ["checkpoint_id"] = s.CheckpointId,
                ["eval_type_id"] = s.EvalTypeId,
                ["baseline_status"] = s.BaselineStatus,
                ["candidate_status"] = s.CandidateStatus,
                ["candidate_error"] = s.CandidateError,
                ["regression"] = s.IsRegression,
            }).ToArray()),
            ["metrics"] = new JsonArray(cmp.Metrics.Select(m => (JsonNode?)new JsonObject
            {
                ["checkpoint_id"] = m.CheckpointId,
                ["eval_type_id"] = m.EvalTypeId,
                ["metric"] = m.MetricId,
                ["display_name"] = m.DisplayName,
                ["unit"] = m.Unit,
                ["higher_is_better"] = m.HigherIsBetter,
                ["baseline"] = Finite(m.Baseline),
                ["candidate"] = Finite(m.Candidate),
                ["delta"] = Finite(m.Delta),
                ["status"] = m.Status.ToString().ToLowerInvariant(),
            }).ToArray()),
            ["problems"] = new JsonArray(cmp.BaselineProblems.Select(p => ("baseline", p)).Concat(cmp.CandidateProblems.Select(p => ("candidate", p)))
                .Select(t => (JsonNode?)new JsonObject { ["run"] = t.Item1, ["file"] = t.p.File, ["message"] = t.p.Message }).ToArray()),
        };
        return o.ToJsonString(ResultJson.Indented);
    }

    /// <summary>Writes both files into <paramref name="outDir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(RunComparison cmp, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var md = Path.Combine(outDir, MarkdownFile);
        var json = Path.Combine(outDir, JsonFile);
        Core.Results.AtomicFile.WriteAllText(md, Markdown(cmp));
        Core.Results.AtomicFile.WriteAllText(json, Json(cmp));
        return [md, json];
    }

    private static double? Finite(double? v) => v is { } d && double.IsFinite(d) ? d : null;
    private static string Label(MetricDiff m) => string.IsNullOrWhiteSpace(m.Unit) ? m.MetricId : $"{m.MetricId} ({m.Unit})";
    private static string Direction(bool? up) => up switch { true => "↑ better", false => "↓ better", null => "—" };
    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
