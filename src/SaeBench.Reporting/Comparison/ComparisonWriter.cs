using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using SaeBench.Core.Results;
using SaeBench.Reporting.Tables;

namespace SaeBench.Reporting.Comparison;

/// <summary>Writes a <see cref="RunComparison"/> as Markdown (short enough for a CI job summary: a verdict line, then
/// at most <see cref="MaxRows"/> rows per section, the rest in the JSON) and JSON (every row, for tools).</summary>
public static class ComparisonWriter
{
    public const string MarkdownFile = "comparison.md";
    public const string JsonFile = "comparison.json";

    /// <summary>Rows shown per Markdown section; the JSON has them all.</summary>
    public const int MaxRows = 25;

    /// <summary>The one-line verdict: INCOMPARABLE, REGRESSED or OK.</summary>
    public static string Verdict(RunComparison cmp) =>
        cmp.Incomparable ? "INCOMPARABLE (provenance changed)" : cmp.HasRegressions ? "REGRESSED" : "OK (no regression)";

    public static string Markdown(RunComparison cmp)
    {
        var sb = new StringBuilder();
        var counts = cmp.Metrics.GroupBy(m => m.Status).ToDictionary(g => g.Key, g => g.Count());
        int statusRegressions = cmp.StatusChanges.Count(s => s.IsRegression);
        sb.AppendLine($"## SaeBench comparison: **{Verdict(cmp)}**").AppendLine();
        sb.AppendLine($"Baseline `{Code(cmp.BaselineRoot)}` → candidate `{Code(cmp.CandidateRoot)}`: {cmp.Metrics.Count} metrics; " +
                      string.Join(", ", Enum.GetValues<DiffStatus>().Where(s => counts.GetValueOrDefault(s) > 0)
                          .Select(s => $"{counts[s]} {s.ToString().ToLowerInvariant()}")) +
                      (statusRegressions > 0 ? $"; {statusRegressions} job(s) no longer done" : "") + ".");
        sb.AppendLine();

        if (cmp.ProvenanceChanges.Count > 0)
        {
            sb.AppendLine(cmp.Incomparable
                ? "### Provenance changed: runs not comparable (metrics of these jobs are not judged; `--allow-provenance-change` compares them anyway)"
                : "### Provenance changed").AppendLine();
            sb.AppendLine("| field | baseline | candidate | results | makes incomparable |").AppendLine("|---|---|---|---:|---|");
            foreach (var p in cmp.ProvenanceChanges.Take(MaxRows))
                sb.AppendLine($"| {Cell(p.Field)} | `{Code(Short(p.Baseline))}` | `{Code(Short(p.Candidate))}` | {p.Jobs.Count} | {(p.Incomparable ? "yes" : "no")} |");
            More(sb, cmp.ProvenanceChanges.Count);
        }

        var regressions = cmp.Regressions.ToList();
        if (regressions.Count > 0)
        {
            sb.AppendLine("### Regressions").AppendLine();
            sb.AppendLine("| checkpoint | metric | baseline | candidate | delta | allowed |").AppendLine("|---|---|---:|---:|---:|---|");
            foreach (var m in regressions.Take(MaxRows))
                sb.AppendLine($"| {Cell(m.CheckpointId)} | {Cell(m.EvalTypeId + "/" + m.MetricId)}{(m.Note is null ? "" : $" ({Cell(m.Note)})")} | " +
                              $"{SummaryMarkdown.Format(m.Baseline)} | {SummaryMarkdown.Format(m.Candidate)} | {SummaryMarkdown.Format(m.Delta)} | {(m.Tolerance is null ? "" : Cell(m.Tolerance.ToString()))} |");
            More(sb, regressions.Count);
        }
        if (cmp.StatusChanges.Count > 0)
        {
            sb.AppendLine("### Job status changes").AppendLine();
            sb.AppendLine("| checkpoint | evaluator | baseline | candidate | regression | error |").AppendLine("|---|---|---|---|---|---|");
            foreach (var s in cmp.StatusChanges.OrderByDescending(s => s.IsRegression).Take(MaxRows))
                sb.AppendLine($"| {Cell(s.CheckpointId)} | {Cell(s.EvalTypeId)} | {s.BaselineStatus} | {s.CandidateStatus} | {(s.IsRegression ? "yes" : "no")} | {Cell(s.CandidateError ?? "")} |");
            More(sb, cmp.StatusChanges.Count);
        }
        var improved = cmp.Metrics.Where(m => m.Status == DiffStatus.Improved).ToList();
        if (improved.Count > 0)
        {
            sb.AppendLine("### Improvements").AppendLine();
            sb.AppendLine("| checkpoint | metric | baseline | candidate |").AppendLine("|---|---|---:|---:|");
            foreach (var m in improved.Take(MaxRows))
                sb.AppendLine($"| {Cell(m.CheckpointId)} | {Cell(m.EvalTypeId + "/" + m.MetricId)} | {SummaryMarkdown.Format(m.Baseline)} | {SummaryMarkdown.Format(m.Candidate)} |");
            More(sb, improved.Count);
        }
        if (cmp.OnlyInBaseline.Count > 0 || cmp.OnlyInCandidate.Count > 0)
        {
            sb.AppendLine("### Checkpoints in one run only").AppendLine();
            var lines = cmp.OnlyInBaseline.Select(c => $"- baseline only: `{Code(c)}`").Concat(cmp.OnlyInCandidate.Select(c => $"- candidate only: `{Code(c)}`")).ToList();
            foreach (var l in lines.Take(MaxRows)) sb.AppendLine(l);
            sb.AppendLine();
            if (lines.Count > MaxRows) More(sb, lines.Count);
        }
        int problems = cmp.BaselineProblems.Count + cmp.CandidateProblems.Count;
        if (problems > 0)
        {
            sb.AppendLine("### Files skipped").AppendLine();
            foreach (var (run, p) in cmp.BaselineProblems.Select(p => ("baseline", p)).Concat(cmp.CandidateProblems.Select(p => ("candidate", p))).Take(MaxRows))
                sb.AppendLine($"- {run} `{Code(p.File)}`: {Cell(p.Message)}");
            sb.AppendLine();
            if (problems > MaxRows) More(sb, problems);
        }
        sb.AppendLine($"Tolerance per metric: descriptor default, command line, then tolerance file; every row is in `{JsonFile}`.");
        return sb.ToString();
    }

    public static string Json(RunComparison cmp)
    {
        var o = new JsonObject
        {
            ["baseline"] = cmp.BaselineRoot,
            ["candidate"] = cmp.CandidateRoot,
            ["verdict"] = cmp.Incomparable ? "incomparable" : cmp.HasRegressions ? "regressed" : "ok",
            ["regressed"] = cmp.HasRegressions,
            ["incomparable"] = cmp.Incomparable,
            ["allow_provenance_change"] = cmp.Options.AllowProvenanceChange,
            ["provenance_changes"] = new JsonArray(cmp.ProvenanceChanges.Select(p => (JsonNode?)new JsonObject
            {
                ["field"] = p.Field,
                ["baseline"] = p.Baseline,
                ["candidate"] = p.Candidate,
                ["makes_incomparable"] = p.Incomparable,
                ["jobs"] = new JsonArray(p.Jobs.Select(j => (JsonNode?)JsonValue.Create(j)).ToArray()),
            }).ToArray()),
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
                ["relative_tolerance"] = m.Tolerance?.Relative,
                ["absolute_tolerance"] = m.Tolerance?.Absolute,
                ["status"] = m.Status.ToString().ToLowerInvariant(),
                ["note"] = m.Note,
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
        AtomicFile.WriteAllText(md, Markdown(cmp));
        AtomicFile.WriteAllText(json, Json(cmp));
        return [md, json];
    }

    private static void More(StringBuilder sb, int total)
    {
        if (total > MaxRows) sb.AppendLine($"… and {(total - MaxRows).ToString(CultureInfo.InvariantCulture)} more in `{JsonFile}`.");
        sb.AppendLine();
    }

    private static string Short(string s) => s.Length > 40 ? s[..16] + "…" + s[^8..] : s;
    private static string Code(string s) => s.Replace("`", "'").Replace("\n", " ");
    private static string Cell(string s) => SummaryMarkdown.Cell(s);
    private static double? Finite(double? v) => v is { } d && double.IsFinite(d) ? d : null;
}
