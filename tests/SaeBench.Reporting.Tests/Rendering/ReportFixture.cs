using SaeBench.TestKit;
using SaeBench.Reporting.Tests.Fixtures;

namespace SaeBench.Reporting.Tests.Rendering;

/// <summary>Builds one full report of <see cref="RichRun"/> (figures drawn in process), shared by every test of the
/// "report" collection. Set SAEBENCH_TEST_REPORT_DIR to keep the output somewhere to look at.</summary>
public sealed class ReportFixture : IDisposable
{
    private readonly TempDirectory? _tmp;

    public ReportFixture()
    {
        var keep = Environment.GetEnvironmentVariable("SAEBENCH_TEST_REPORT_DIR");
        if (keep is { Length: > 0 }) { Root = keep; Directory.CreateDirectory(keep); }
        else { _tmp = new TempDirectory(); Root = _tmp.Path; }
        Results = Path.Combine(Root, "run");
        Output = Path.Combine(Root, "report");
        RichRun.Write(Results);
        Outcome = ReportBuilder.Build(Results, Output, new ReportOptions(), TextWriter.Null);
    }

    public string Root { get; }
    public string Results { get; }
    public string Output { get; }
    public ReportOutcome Outcome { get; }

    public void Dispose() => _tmp?.Dispose();
}

[CollectionDefinition("report")]
public sealed class ReportCollection : ICollectionFixture<ReportFixture>;
