using System.Text.Json.Nodes;
using Json.Schema;

namespace SaeBench.TestKit;

/// <summary>
/// Validation of result files against SAEBench's published output schemas (<c>tests/schemas/saebench</c>, prose removed),
/// with JsonSchema.Net.
/// </summary>
public static class SaeBenchSchemas
{
    /// <summary>Every problem of <paramref name="resultFile"/> against the schema of <paramref name="evalTypeId"/>, as
    /// "location: message" lines (empty when it validates).</summary>
    public static IReadOnlyList<string> Problems(string evalTypeId, JsonNode resultFile)
    {
        var schema = JsonSchema.FromText(WithoutAnnotations(File.ReadAllText(TestData.SaeBenchSchema(evalTypeId))));
        using var document = System.Text.Json.JsonDocument.Parse(resultFile.ToJsonString());
        var result = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid) return [];
        var problems = new List<string>();
        foreach (var detail in result.Details ?? [])
            if (detail.Errors is { } errors)
                foreach (var (keyword, message) in errors)
                    problems.Add($"{detail.InstanceLocation} ({keyword} at {detail.EvaluationPath}): {message}");
        return problems.Count > 0 ? problems : ["invalid (no detail given)"];
    }

    /// <summary>The schema without pydantic's <c>ui_default_display</c> marker: a UI annotation with no validation meaning,
    /// which JsonSchema.Net's 2020-12 dialect refuses as an unknown keyword.</summary>
    private static string WithoutAnnotations(string schema)
    {
        var root = JsonNode.Parse(schema)!;
        void Strip(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    o.Remove("ui_default_display");
                    foreach (var (_, child) in o.ToList()) Strip(child);
                    break;
                case JsonArray a:
                    foreach (var child in a) Strip(child);
                    break;
            }
        }
        Strip(root);
        return root.ToJsonString();
    }

    /// <summary>Asserts that a result file validates, listing the problems when it does not.</summary>
    public static void AssertValid(string evalTypeId, JsonNode resultFile)
    {
        var problems = Problems(evalTypeId, resultFile);
        Assert.True(problems.Count == 0, $"{evalTypeId} result file does not validate against SAEBench's schema:\n  " + string.Join("\n  ", problems.Take(30)));
    }
}
