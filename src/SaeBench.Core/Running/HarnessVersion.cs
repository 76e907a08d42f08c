using System.Reflection;
using System.Security.Cryptography;
using SaeBench.Core.Results;

namespace SaeBench.Core.Running;

/// <summary>
/// What identifies the harness that produced a result. <see cref="Code"/> enters every job key, so results of changed
/// code are never reused: it is a hash of the bytes of the harness's assemblies (builds are deterministic and paths are
/// mapped, so the same source gives the same bytes wherever it is built; a documentation-only commit does not change it,
/// a code change does). <see cref="Commit"/> is recorded for people, not used in keys.
/// </summary>
/// <param name="Release">The release version, e.g. <c>0.1.0</c>.</param>
/// <param name="Code">Content hash of the code (<c>asm:</c> + 16 hex digits).</param>
/// <param name="Commit">The git commit of the checkout the harness runs from, when there is one.</param>
public sealed record HarnessVersion(string Release, string Code, string? Commit)
{
    /// <summary>The version of a harness made of <paramref name="assemblies"/> (every assembly whose code can change a number).</summary>
    public static HarnessVersion Of(IEnumerable<Assembly> assemblies)
    {
        var list = assemblies.Distinct().OrderBy(a => a.GetName().Name, StringComparer.Ordinal).ToList();
        var first = list.FirstOrDefault() ?? throw new ArgumentException("no assemblies", nameof(assemblies));
        var release = first.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                      ?? first.GetName().Version?.ToString() ?? "0.0.0";
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var a in list)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(a.GetName().Name + "\n"));
            if (a.Location is { Length: > 0 } path && File.Exists(path)) sha.AppendData(File.ReadAllBytes(path));
            else sha.AppendData(a.ManifestModule.ModuleVersionId.ToByteArray()); // single-file publish: the MVID is content-derived
        }
        var code = "asm:" + Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
        return new HarnessVersion(release, code, GitCommit.Find(AppContext.BaseDirectory) ?? GitCommit.Find(Directory.GetCurrentDirectory()));
    }
}

/// <summary>Reads the commit of a git checkout from its files (no git process): <c>.git/HEAD</c>, then the ref it names in
/// <c>refs/</c> or <c>packed-refs</c>. Worktrees (<c>.git</c> as a file) are followed.</summary>
public static class GitCommit
{
    /// <summary>The commit checked out in the first git repository at or above <paramref name="directory"/>, or null.</summary>
    public static string? Find(string directory)
    {
        try
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(directory)); dir is not null; dir = dir.Parent)
            {
                var dotGit = Path.Combine(dir.FullName, ".git");
                if (Directory.Exists(dotGit)) return Read(dotGit, dotGit);
                if (File.Exists(dotGit))
                {
                    var line = File.ReadAllText(dotGit).Trim();
                    if (!line.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
                    var gitDir = Path.GetFullPath(Path.Combine(dir.FullName, line["gitdir:".Length..].Trim()));
                    var commonFile = Path.Combine(gitDir, "commondir");
                    var common = File.Exists(commonFile) ? Path.GetFullPath(Path.Combine(gitDir, File.ReadAllText(commonFile).Trim())) : gitDir;
                    return Read(gitDir, common);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { }
        return null;
    }

    private static string? Read(string gitDir, string commonDir)
    {
        var head = File.ReadAllText(Path.Combine(gitDir, "HEAD")).Trim();
        if (!head.StartsWith("ref:", StringComparison.Ordinal)) return IsHash(head) ? head : null;
        var name = head["ref:".Length..].Trim();
        foreach (var d in new[] { gitDir, commonDir })
        {
            var loose = Path.Combine(d, name);
            if (File.Exists(loose)) { var h = File.ReadAllText(loose).Trim(); return IsHash(h) ? h : null; }
        }
        var packed = Path.Combine(commonDir, "packed-refs");
        if (!File.Exists(packed)) return null;
        foreach (var line in File.ReadLines(packed))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && parts[1] == name && IsHash(parts[0])) return parts[0];
        }
        return null;
    }

    private static bool IsHash(string s) => s.Length is 40 or 64 && s.All(Uri.IsHexDigit);
}
