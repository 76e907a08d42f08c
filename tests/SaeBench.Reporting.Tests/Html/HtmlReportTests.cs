using SaeBench.TestKit;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Html;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Html;

public class HtmlReportTests
{
    public const string EvilId = "<script>alert('x')</script>&\u2028";

    [Fact]
    public void Script_in_a_checkpoint_id_is_escaped_in_html_and_in_embedded_json()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        Write(tmp.Path, "core", new Ckpt(EvilId.Replace("/", "_"), "topk\"><b>", 256), [L0(10), ExplainedVariance(0.5), LossRecovered(0.5)]);
        var html = HtmlReport.Build(ResultReader.Load(tmp.Path), new FigureOptions(), libraries: null, "test", []);

        Assert.DoesNotContain("<script>alert", html);
        Assert.DoesNotContain("<b>", html);
        var start = html.IndexOf("id=\"report-data\">", StringComparison.Ordinal);
        var data = html[start..html.IndexOf("</script>", start, StringComparison.Ordinal)];
        Assert.DoesNotContain("\u2028", data);   // raw U+2028 ends a JavaScript line; fine in HTML text, not in script
        Assert.Contains("<td>&lt;script&gt;alert(&#39;x&#39;)&lt;_script&gt;&amp;", html);
        Assert.Contains("\\u003cscript\\u003ealert('x')\\u003c_script\\u003e\\u0026\\u2028", html);
        // Only our own script elements open: the data block and report.js
        Assert.Equal(2, CountOf(html, "<script"));
    }

    [Fact]
    public void Without_libraries_the_report_is_table_only_and_says_why()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        var html = HtmlReport.Build(ResultReader.Load(tmp.Path), new FigureOptions(), libraries: null, "Node.js not found", []);
        Assert.Contains("Interactive chart unavailable: Node.js not found", html);
        Assert.DoesNotContain("id=\"chart\"", html);
        Assert.Contains("id=\"metrics-table\"", html);
        Assert.Equal(9, CountOf(html, "<tr data-architecture="));
    }

    [Fact]
    public void Inlined_library_code_cannot_close_its_script_element()
    {
        var js = "var a = '</script><script>evil()</script>'; var b = /<!--/;";
        var safe = HtmlText.InlineScript(js);
        Assert.DoesNotContain("</script", safe, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<!--", safe);
        Assert.Equal("var a = '<\\/script><script>evil()<\\/script>'; var b = /<\\!--/;", safe);
    }

    [Fact]
    public void Script_json_escapes_exactly_the_dangerous_characters()
    {
        Assert.Equal("{\"a\":\"\\u003c/script\\u003e\\u0026\\u2028\\u2029 ok\"}", HtmlText.ScriptJson("{\"a\":\"</script>&\u2028\u2029 ok\"}"));
    }

    private static int CountOf(string s, string what)
    {
        int n = 0, i = 0;
        while ((i = s.IndexOf(what, i, StringComparison.Ordinal)) >= 0) { n++; i += what.Length; }
        return n;
    }
}
