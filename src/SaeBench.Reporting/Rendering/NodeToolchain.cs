using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Reflection;
using System.Security.Cryptography;

namespace SaeBench.Reporting.Rendering;

/// <summary>Where to find Node.js and npm, and where the renderer's npm packages are installed.</summary>
/// <param name="CacheDirectory">Parent of the install folder; default <c>$SAEBENCH_NODE_CACHE</c>, else
/// <c>$XDG_CACHE_HOME/saebench/node</c>, else <c>~/.cache/saebench/node</c>.</param>
public sealed record NodeOptions(string NodeExecutable = "node", string NpmExecutable = "npm", string? CacheDirectory = null);

/// <summary>The renderer's package folder after <c>npm ci</c>: render.mjs plus node_modules.</summary>
public sealed record NodePackages(string NodeExecutable, string Directory)
{
    public string Script => Path.Combine(Directory, "render.mjs");

    /// <summary>A file inside node_modules, e.g. <c>vega/build/vega.min.js</c>.</summary>
    public string Module(string relative) => Path.Combine(Directory, "node_modules", relative);
}

/// <summary>Installs the renderer's pinned npm packages (render/package.json + package-lock.json, embedded
/// in this assembly) with <c>npm ci</c> on first use, into a cache folder named by the hash of those
/// files, so it runs once per machine and lockfile. Concurrent first uses are safe: each installs into
/// its own temporary folder and the first to rename it into place wins.</summary>
public static class NodeToolchain
{
    private static readonly string[] Resources = ["package.json", "package-lock.json", "render.mjs"];

    /// <summary>Hint printed when Node.js or npm is missing.</summary>
    public const string InstallHint =
        "install Node.js 20+ and npm (Debian: apt-get install nodejs npm, or run scripts/setup.sh as root), then run `saebench report RESULTS_DIR` again";

    /// <summary>Prepares the packages; false with a reason (naming what is missing) when Node.js or npm is absent or npm ci fails.</summary>
    public static bool TryPrepare(NodeOptions options, TextWriter log, out NodePackages? packages, out string reason)
    {
        packages = null;
        var node = ProcessRunner.Run(options.NodeExecutable, ["--version"], null, TimeSpan.FromSeconds(20));
        if (node is null || node.ExitCode != 0)
        {
            reason = $"Node.js not found ('{options.NodeExecutable}'): {InstallHint}";
            return false;
        }
        var files = Resources.ToDictionary(n => n, ReadResource);
        var hash = Convert.ToHexStringLower(SHA256.HashData(files.OrderBy(f => f.Key, StringComparer.Ordinal)
            .SelectMany(f => System.Text.Encoding.UTF8.GetBytes(f.Key + "\n").Concat(f.Value).Concat(new byte[] { 0 })).ToArray()))[..16];
        var cache = options.CacheDirectory ?? DefaultCacheDirectory();
        var target = Path.Combine(cache, "render-" + hash);
        if (Directory.Exists(Path.Combine(target, "node_modules")))
        {
            packages = new NodePackages(options.NodeExecutable, target);
            reason = "";
            return true;
        }
        Directory.CreateDirectory(cache);
        var staging = Path.Combine(cache, $"render-{hash}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(staging, name), bytes);
            log.WriteLine($"report: installing the renderer's npm packages once (npm ci) into {target}");
            var ci = ProcessRunner.Run(options.NpmExecutable, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], staging, TimeSpan.FromMinutes(10));
            if (ci is null)
            {
                reason = $"npm not found ('{options.NpmExecutable}'): {InstallHint}";
                return false;
            }
            if (ci.ExitCode != 0)
            {
                reason = $"npm ci failed in {staging} (exit {ci.ExitCode}{(ci.TimedOut ? ", timed out" : "")}): {Tail(ci.StandardError + ci.StandardOutput)}";
                return false;
            }
            try { Directory.Move(staging, target); }
            catch (IOException) when (Directory.Exists(Path.Combine(target, "node_modules"))) { /* another process won the race */ }
            packages = new NodePackages(options.NodeExecutable, target);
            reason = "";
            return true;
        }
        finally
        {
            if (Directory.Exists(staging))
                try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static string DefaultCacheDirectory()
    {
        if (Environment.GetEnvironmentVariable("SAEBENCH_NODE_CACHE") is { Length: > 0 } explicitDir) return explicitDir;
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "saebench", "node");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Path.GetTempPath(), "saebench-node")
            : Path.Combine(home, ".cache", "saebench", "node");
    }

    internal static byte[] ReadResource(string name)
    {
        using var s = typeof(NodeToolchain).Assembly.GetManifestResourceStream("render/" + name)
            ?? throw new InvalidOperationException($"embedded resource render/{name} is missing from {typeof(NodeToolchain).Assembly.GetName().Name}");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    private static string Tail(string s)
    {
        var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", lines.TakeLast(5));
    }
}
