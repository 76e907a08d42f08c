using System.Text.Encodings.Web;
using System.Text.Json;

namespace SaeBench.Core.Results;

/// <summary>
/// The one serializer configuration of every JSON file the harness writes (result files, manifests, reports,
/// comparisons): UTF-8, readable (no \u escapes for ordinary text), invariant numbers. Never embed its output in
/// HTML unescaped (Reporting's <c>HtmlText.ScriptJson</c> does that safely).
/// </summary>
public static class ResultJson
{
    public static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static readonly JsonSerializerOptions Compact = new()
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
