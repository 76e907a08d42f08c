namespace SaeBench.TestKit;

/// <summary>
/// The cache directory tests use instead of the repository's <c>.saebench-cache/</c> (no test writes into the
/// repository): one folder under the system temp directory, shared by every test run on the machine, so that expensive
/// content-addressed entries (the Fashion-MNIST MLP's weights, activation caches) are built once, exactly as the
/// repository cache would. Pass it as <c>ModelOptions.CacheDirectory</c> or <c>$SAEBENCH_CACHE</c>.
/// </summary>
public static class TestCache
{
    public static string Directory { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "saebench-test-cache");

    /// <summary>Environment variables for a CLI context: <c>SAEBENCH_CACHE</c> pointing at <see cref="Directory"/>, plus
    /// <paramref name="more"/> (which may override it).</summary>
    public static Dictionary<string, string> Environment(IReadOnlyDictionary<string, string>? more = null)
    {
        var env = new Dictionary<string, string> { ["SAEBENCH_CACHE"] = Directory };
        if (more is not null) foreach (var (k, v) in more) env[k] = v;
        return env;
    }
}
