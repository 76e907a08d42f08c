namespace SaeBench.Core.Results;

/// <summary>How a job ended, as a result file records it (<c>saebench_net.status</c>).</summary>
public enum JobStatus
{
    Done,
    Failed,
    /// <summary>The evaluator does not apply to this model or checkpoint (e.g. ground truth on a real model).</summary>
    NotApplicable,
}

/// <summary>The names job statuses have in result files and manifests — the one place they are spelled.</summary>
public static class JobStatuses
{
    public const string Done = "done";
    public const string Failed = "failed";
    public const string NotApplicable = "not_applicable";

    /// <summary>A job whose result file already had its key (not a status a result file holds; runs and manifests use it).</summary>
    public const string Skipped = "skipped";

    public static string Name(JobStatus status) => status switch
    {
        JobStatus.Done => Done,
        JobStatus.Failed => Failed,
        JobStatus.NotApplicable => NotApplicable,
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool TryParse(string? name, out JobStatus status)
    {
        (bool ok, status) = name switch
        {
            Done => (true, JobStatus.Done),
            Failed => (true, JobStatus.Failed),
            NotApplicable => (true, JobStatus.NotApplicable),
            _ => (false, JobStatus.Done),
        };
        return ok;
    }
}
