using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Globalization;
using CsvHelper;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Tables;

/// <summary>The two CSV projections of a <see cref="ResultSet"/> (docs/RESULT_FILES.md): invariant culture,
/// comma-separated, RFC 4180 quoting, an undefined metric written as an empty field.</summary>
public static class CsvTables
{
    public static readonly IReadOnlyList<string> TidyColumns =
        ["checkpoint_id", "eval_type_id", "category", "metric", "value", "unit", "higher_is_better", "architecture", "width", "target_l0"];

    /// <summary>Fixed leading columns of the wide table; one column per <c>eval_type_id/category.metric</c> follows.</summary>
    public static readonly IReadOnlyList<string> WideLeadingColumns = ["checkpoint_id", "architecture", "width", "target_l0"];

    /// <summary>One row per checkpoint × evaluator × metric.</summary>
    public static void WriteTidy(ResultSet results, TextWriter writer)
    {
        using var csv = CsvWriter.Create(writer, Options, leaveOpen: true);
        csv.WriteRecord(TidyColumns.ToArray());
        foreach (var r in results.Results)
            foreach (var m in r.Metrics)
                csv.WriteRecord(
                [
                    r.Checkpoint.Id,
                    r.EvalTypeId,
                    m.Descriptor.Category,
                    m.Descriptor.Name,
                    Number(m.Value),
                    m.Descriptor.Unit ?? "",
                    m.Descriptor.HigherIsBetter switch { true => "true", false => "false", null => "" },
                    r.Checkpoint.Architecture ?? "",
                    r.Checkpoint.Width ?? "",
                    r.Checkpoint.TargetL0 ?? "",
                ]);
        csv.Flush();
    }

    /// <summary>One row per checkpoint, one column per evaluator metric.</summary>
    public static void WriteWide(ResultSet results, TextWriter writer)
    {
        using var csv = CsvWriter.Create(writer, Options, leaveOpen: true);
        csv.WriteRecord(WideLeadingColumns.Concat(results.MetricKeys.Select(k => k.ToString())).ToArray());
        foreach (var c in results.Checkpoints)
            csv.WriteRecord(new[] { c.Id, c.Architecture ?? "", c.Width ?? "", c.TargetL0 ?? "" }
                .Concat(results.MetricKeys.Select(k => Number(results.Value(c.Id, k)))).ToArray());
        csv.Flush();
    }

    /// <summary>Shortest round-trip form in invariant culture; empty for null.</summary>
    public static string Number(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>RFC 4180, comma, quote when needed, LF line ends (numbers are formatted here, invariant).</summary>
    private static readonly CsvWriterOptions Options = CsvWriterOptions.Default with { NewLine = "\n" };
}
