using SaeBench.TestKit;
using SaeBench.Reporting.Rendering;
using SaeBench.Reporting.Tests.Fixtures;

namespace SaeBench.Reporting.Tests.Rendering;

/// <summary>Builds one full report of <see cref="RichRun"/> with Node.js (npm ci runs at most once per
/// machine and lockfile, in the shared cache), shared by every test of the "node" collection.
/// Set SAEBENCH_TEST_REPORT_DIR to keep the output somewhere to look at.</summary>
public sealed class NodeReportFixture : IDisposable
{
    public const string SetupHint = "run `bash scripts/setup.sh` as root (CI does) to install Node.js, npm, fonts-dejavu-core and chromium";

    private readonly TempDirectory? _tmp;

    public NodeReportFixture()
    {
        var keep = Environment.GetEnvironmentVariable("SAEBENCH_TEST_REPORT_DIR");
        if (keep is { Length: > 0 }) { Root = keep; Directory.CreateDirectory(keep); }
        else { _tmp = new TempDirectory(); Root = _tmp.Path; }
        Results = Path.Combine(Root, "run");
        Output = Path.Combine(Root, "report");
        RichRun.Write(Results);
        Outcome = ReportBuilder.Build(Results, Output, new ReportOptions(), Console.Out);
    }

    public string Root { get; }
    public string Results { get; }
    public string Output { get; }
    public ReportOutcome Outcome { get; }

    /// <summary>Fails the calling test (never skips) when Node.js could not render.</summary>
    public void RequireImages()
    {
        Assert.True(Outcome.ImagesRendered,
            $"images were not rendered: {Outcome.ImageNote ?? string.Join("; ", Outcome.Warnings)} — {SetupHint}");
    }

    public void Dispose() => _tmp?.Dispose();
}

[CollectionDefinition("node")]
public sealed class NodeCollection : ICollectionFixture<NodeReportFixture>;
