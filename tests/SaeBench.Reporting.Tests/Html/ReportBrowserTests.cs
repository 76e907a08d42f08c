using SaeBench.TestKit;
using Microsoft.Playwright;
using SaeBench.Reporting.Tests.Fixtures;
using SaeBench.Reporting.Tests.Rendering;

namespace SaeBench.Reporting.Tests.Html;

/// <summary>report.html in a real browser: Debian's Chromium driven by Playwright (no browser download).
/// Without Chromium these tests FAIL and say how to install it: CI installs it with scripts/setup.sh.</summary>
[Collection("report")]
public class ReportBrowserTests(ReportFixture report)
{
    public const string Chromium = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ];

    private sealed record Session(IPlaywright Playwright, IBrowser Browser, IPage Page, List<string> Errors, List<string> Dialogs) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Browser.CloseAsync();
            Playwright.Dispose();
        }
    }

    private async Task<Session> OpenAsync()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} not found: run `bash scripts/setup.sh` as root to install it");
        var pw = await Playwright.CreateAsync();
        var browser = await pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ChromiumArgs,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1300, Height = 900 } });
        var errors = new List<string>();
        var dialogs = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add("console: " + m.Text); };
        page.PageError += (_, e) => errors.Add("page error: " + e);
        page.Dialog += async (_, d) => { dialogs.Add(d.Message); await d.DismissAsync(); };
        await page.GotoAsync(new Uri(Path.Combine(report.Output, "report.html")).AbsoluteUri);
        await page.WaitForFunctionAsync("() => document.getElementById('chart').getAttribute('data-renders') === '1'");
        return new Session(pw, browser, page, errors, dialogs);
    }

    private static async Task<string[]> AxisTitles(IPage page) =>
        (await page.Locator("#chart .role-axis-title text").AllTextContentsAsync()).ToArray();

    [RequiresFact(Requirement.Chromium)]
    [Trait(Category.Name, Category.Slow)]
    public async Task Loads_without_errors_and_changing_the_y_metric_redraws_the_chart()
    {
        await using var s = await OpenAsync();
        var page = s.Page;
        var before = await AxisTitles(page);
        Assert.Contains("L0 (latents)", before);
        Assert.Contains("Loss recovered (fraction)", before);
        var pointsBefore = await page.Locator("#chart .mark-symbol.role-mark path").CountAsync();
        Assert.Equal(int.Parse(await page.GetAttributeAsync("#chart", "data-points") ?? "-1"), pointsBefore);
        Assert.True(pointsBefore > 20, $"only {pointsBefore} points drawn");

        await page.SelectOptionAsync("#y-metric", "mdl/mdl.description_length_bits");
        await page.WaitForFunctionAsync("() => document.getElementById('chart').getAttribute('data-renders') === '2'");
        var after = await AxisTitles(page);
        Assert.Contains("Description length (bits/token)", after);
        Assert.DoesNotContain("Loss recovered (fraction)", after);
        // baselines have no MDL result: fewer points than before
        Assert.True(await page.Locator("#chart .mark-symbol.role-mark path").CountAsync() < pointsBefore);

        var shot = Path.Combine(report.Root, "report-screenshot.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        Assert.True(PngPixels.CountDark(File.ReadAllBytes(shot)) > 1000, "the screenshot shows the report");
        Assert.Empty(s.Errors);
    }

    [RequiresFact(Requirement.Chromium)]
    [Trait(Category.Name, Category.Slow)]
    public async Task Tooltip_shows_the_checkpoint_id()
    {
        await using var s = await OpenAsync();
        await s.Page.Locator("#chart .mark-symbol.role-mark path").First.HoverAsync(new LocatorHoverOptions { Force = true });
        var tooltip = s.Page.Locator("#vg-tooltip-element");
        await tooltip.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        var text = await tooltip.TextContentAsync() ?? "";
        Assert.Contains("Checkpoint", text);
        Assert.Matches("(relu|topk|jumprelu|pca|identity)-[0-9]+", text);
        Assert.Empty(s.Errors);
    }

    [RequiresFact(Requirement.Chromium)]
    [Trait(Category.Name, Category.Slow)]
    public async Task A_script_tag_in_a_checkpoint_id_is_shown_as_text_and_never_runs()
    {
        await using var s = await OpenAsync();
        var cell = s.Page.Locator("#metrics-table td").Filter(new LocatorFilterOptions { HasTextString = RichRun.EvilId });
        Assert.Equal(1, await cell.CountAsync());
        Assert.Equal(RichRun.EvilId, await cell.TextContentAsync());
        Assert.Empty(s.Dialogs);
        Assert.Empty(s.Errors);
    }

    [RequiresFact(Requirement.Chromium)]
    [Trait(Category.Name, Category.Slow)]
    public async Task Table_sorts_by_a_metric_and_filters_hide_architectures()
    {
        await using var s = await OpenAsync();
        var page = s.Page;
        await page.Locator("#metrics-table th[title='core/sparsity.l0']").ClickAsync();
        var l0Column = await page.EvaluateAsync<int>("() => [...document.querySelectorAll('#metrics-table thead th')].findIndex(th => th.title === 'core/sparsity.l0')");
        var values = await page.EvaluateAsync<double[]>(
            $"() => [...document.querySelectorAll('#metrics-table tbody tr')].map(r => parseFloat(r.cells[{l0Column}].getAttribute('data-value')))");
        Assert.Equal(values.Order(), values);
        Assert.Equal(8, values[0]);

        var before = int.Parse(await page.GetAttributeAsync("#chart", "data-points") ?? "0");
        await page.Locator("input[data-filter='architecture'][value='relu']").UncheckAsync();
        await page.WaitForFunctionAsync("() => document.getElementById('chart').getAttribute('data-renders') === '2'");
        var after = int.Parse(await page.GetAttributeAsync("#chart", "data-points") ?? "0");
        Assert.Equal(before - 9, after);   // nine relu checkpoints
        Assert.Equal(9, await page.Locator("#metrics-table tbody tr[data-architecture='relu'][hidden]").CountAsync());
        Assert.Empty(s.Errors);
    }
}
