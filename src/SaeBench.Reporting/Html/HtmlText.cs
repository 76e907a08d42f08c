using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
namespace SaeBench.Reporting.Html;

/// <summary>Escaping for everything user-provided that goes into report.html.</summary>
public static class HtmlText
{
    /// <summary>Text or attribute value: &amp; &lt; &gt; " ' as entities.</summary>
    public static string Escape(string? s) => s is null ? "" : s
        .Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;").Replace("'", "&#39;");

    /// <summary>JSON made safe to sit inside a &lt;script&gt; element: &lt; &gt; &amp; and U+2028/U+2029 as \u escapes
    /// (they can only occur inside JSON strings, where the escape means the same character), so no string
    /// can close the element or open a comment, and the text is also valid JavaScript.</summary>
    public static string ScriptJson(string json) => json
        .Replace("<", "\\u003c").Replace(">", "\\u003e").Replace("&", "\\u0026")
        .Replace("\u2028", "\\u2028").Replace("\u2029", "\\u2029");

    /// <summary>Third-party JavaScript made safe to inline in a &lt;script&gt; element: a literal
    /// <c>&lt;/script</c> or <c>&lt;!--</c> (only possible in strings, regexes or comments) is broken with a backslash.</summary>
    public static string InlineScript(string js) => System.Text.RegularExpressions.Regex
        .Replace(js, "</(script)", "<\\/$1", System.Text.RegularExpressions.RegexOptions.IgnoreCase)
        .Replace("<!--", "<\\!--");
}
