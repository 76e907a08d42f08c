namespace SaeBench.TestKit;

/// <summary>
/// Something outside the project that a test needs. <see cref="Missing"/> says why it is absent, or null when present.
/// </summary>
public static class Requirement
{
    public const string Chromium = "chromium";
    public const string OpenBlas = "openblas";

    /// <summary>Why <paramref name="requirement"/> is not met on this machine, or null when it is.</summary>
    public static string? Missing(string requirement) => requirement switch
    {
        Chromium => File.Exists("/usr/bin/chromium") || OnPath("chromium") ? null : "Chromium is not installed",
        OpenBlas => new[] { "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib/aarch64-linux-gnu/libopenblas.so.0" }.Any(File.Exists)
            ? null : "libopenblas.so.0 is not installed",
        _ => throw new ArgumentException($"unknown requirement '{requirement}'", nameof(requirement)),
    };

    /// <summary>True on CI (<c>CI=true</c>): there the environment is set up by scripts/setup.sh, so a missing
    /// requirement is a failure, not a reason to skip.</summary>
    public static bool IsCi => Environment.GetEnvironmentVariable("CI") is { } ci && (ci == "1" || ci.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}

/// <summary>
/// A fact that needs something outside the project (see <see cref="Requirement"/>): skipped with the reason where it is
/// missing, except on CI, where it runs (and fails) so that a broken set-up is never hidden by a skip.
/// </summary>
public sealed class RequiresFactAttribute : FactAttribute
{
    public RequiresFactAttribute(params string[] requirements)
    {
        if (Requirement.IsCi) return;
        var missing = requirements.Select(Requirement.Missing).OfType<string>().ToList();
        if (missing.Count > 0) Skip = string.Join("; ", missing) + " — run `bash scripts/setup.sh` as root to install it";
    }
}
