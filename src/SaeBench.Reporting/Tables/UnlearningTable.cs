using System.Globalization;
using System.Text;
using System.Text.Json;
using SaeBench.Core.Results;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Tables;

/// <summary>One configuration of an unlearning sweep as its result file records it (<c>eval_result_details</c>).</summary>
public sealed record UnlearningRow(double Tau, int N, double Multiplier, double ForgetAccuracy, double RetainAccuracy, bool? RetainCutUncertain);

/// <summary>
/// The per-configuration table of the unlearning evaluator: the score is 1 − one of these forget accuracies, chosen by
/// a retain cut, so the table shows what the single number hides (which configuration set it, which ones the cut removed,
/// and where the cut is within sampling error).
/// </summary>
public static class UnlearningTable
{
    /// <summary>The configurations of every done unlearning result, by checkpoint id (files without rows are left out).</summary>
    public static IReadOnlyList<(string Checkpoint, double? Score, double MinRetain, IReadOnlyList<UnlearningRow> Rows)> Read(ResultSet results)
    {
        var list = new List<(string, double?, double, IReadOnlyList<UnlearningRow>)>();
        foreach (var c in results.Checkpoints)
        {
            var r = results.Results.FirstOrDefault(x => x.EvalTypeId == "unlearning" && x.Checkpoint.Id == c.Id && x.Status == JobStatus.Done);
            if (r is null) continue;
            // SourceFile is relative to the results directory (as shown in messages).
            string file = Path.Combine(results.Root, r.SourceFile);
            if (!File.Exists(file)) continue;
            var rows = new List<UnlearningRow>();
            double minRetain = 0.99;
            try
            {
                using var doc = Core.StrictJson.Parse(File.ReadAllBytes(file)); // as every reader of result files: duplicate keys and bad Unicode refused
                var root = doc.RootElement;
                if (root.TryGetProperty("eval_config", out var cfg) && cfg.ValueKind == JsonValueKind.Object
                    && cfg.TryGetProperty("min_retain_accuracy", out var m) && m.ValueKind == JsonValueKind.Number)
                    minRetain = m.GetDouble();
                if (!root.TryGetProperty("eval_result_details", out var details) || details.ValueKind != JsonValueKind.Array) continue;
                foreach (var d in details.EnumerateArray())
                {
                    if (!(Number(d, "tau") is { } tau && Number(d, "n") is { } n && Number(d, "multiplier") is { } k
                          && Number(d, "forget_accuracy") is { } fa && Number(d, "retain_accuracy") is { } ra)) continue;
                    bool? uncertain = d.TryGetProperty("retain_cut_uncertain", out var u) && u.ValueKind is JsonValueKind.True or JsonValueKind.False
                        ? u.GetBoolean() : null;
                    rows.Add(new UnlearningRow(tau, (int)n, k, fa, ra, uncertain));
                }
            }
            catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                continue;
            }
            if (rows.Count > 0) list.Add((c.Id, r.Find("unlearning.unlearning_score")?.Value, minRetain, rows));
        }
        return list;
    }

    private static double? Number(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    /// <summary>A column name for a configuration: τ, n and the multiplier.</summary>
    public static string Label(UnlearningRow r) =>
        $"τ={r.Tau.ToString("G4", CultureInfo.InvariantCulture)} n={r.N} ×{r.Multiplier.ToString("G4", CultureInfo.InvariantCulture)}";

    /// <summary>A cell: forget / retain accuracy; ✗ when the retain cut excludes the configuration, ? when the cut is within
    /// the retain accuracy's 95 % interval, ◀ on the configuration that sets the score.</summary>
    public static string Cell(UnlearningRow r, double minRetain, bool scoring)
    {
        var s = $"{SummaryMarkdown.Format(r.ForgetAccuracy)} / {SummaryMarkdown.Format(r.RetainAccuracy)}";
        if (r.RetainAccuracy < minRetain) s += " ✗";
        if (r.RetainCutUncertain == true) s += " ?";
        if (scoring) s += " ◀";
        return s;
    }

    /// <summary>The configuration that sets the score: lowest forget accuracy among those passing the cut (first on ties).</summary>
    public static UnlearningRow? Scoring(IReadOnlyList<UnlearningRow> rows, double minRetain) =>
        rows.Where(r => r.RetainAccuracy >= minRetain).OrderBy(r => r.ForgetAccuracy).FirstOrDefault();

    /// <summary>The Markdown section (empty when there is no unlearning result with configurations).</summary>
    public static string Markdown(ResultSet results)
    {
        var tables = Read(results);
        if (tables.Count == 0) return "";
        var sb = new StringBuilder();
        sb.AppendLine("## Unlearning per configuration").AppendLine();
        sb.AppendLine("Each cell is forget accuracy / retain accuracy after clamping the configuration's latents; the score is 1 − the lowest " +
                      "forget accuracy (◀) among configurations whose retain accuracy meets the cut. ✗: below the cut (counts as forget " +
                      "accuracy 1); ?: the cut lies inside the retain accuracy's 95 % Wilson interval, so another sample could decide otherwise.");
        sb.AppendLine();
        // One table per distinct set of configurations (normally one).
        foreach (var group in tables.GroupBy(t => string.Join(";", t.Rows.Select(Label))))
        {
            var labels = group.First().Rows.Select(Label).ToList();
            sb.Append("| checkpoint | score |");
            foreach (var l in labels) sb.Append(' ').Append(SummaryMarkdown.Cell(l)).Append(" |");
            sb.AppendLine();
            sb.Append("|---|---:|").AppendLine(string.Concat(labels.Select(_ => "---:|")));
            foreach (var (checkpoint, score, minRetain, rows) in group)
            {
                var scoring = Scoring(rows, minRetain);
                sb.Append($"| {SummaryMarkdown.Cell(checkpoint)} | {SummaryMarkdown.Format(score)} |");
                foreach (var r in rows) sb.Append(' ').Append(SummaryMarkdown.Cell(Cell(r, minRetain, ReferenceEquals(r, scoring)))).Append(" |");
                sb.AppendLine();
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
