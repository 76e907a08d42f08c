namespace SaeBench.Core.HuggingFace;

/// <summary>
/// The local Hugging Face Hub cache, read the way huggingface_hub lays it out; nothing is ever downloaded.
/// <c>&lt;root&gt;/models--org--name/</c> holds <c>refs/&lt;revision&gt;</c> (a text file with the commit hash the revision
/// resolved to), <c>snapshots/&lt;commit&gt;/&lt;path in repo&gt;</c> (the files, usually symlinks into <c>blobs/</c>) and
/// <c>blobs/</c>. The root is <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>$HOME/.cache/huggingface/hub</c>, read
/// from the variables the caller passes (<see cref="RootFrom"/>), so tests and notebooks pass their own.
/// </summary>
public sealed class HfHubCache
{
    /// <summary>The revision huggingface_hub resolves when none is given.</summary>
    public const string DefaultRevision = "main";

    public HfHubCache(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The cache root (the folder holding <c>models--…</c> folders).</summary>
    public string Root { get; }

    /// <summary>
    /// The cache root huggingface_hub would use: <c>HF_HUB_CACHE</c>, else <c>HF_HOME</c>/hub, else
    /// <c>HOME</c>/.cache/huggingface/hub; a leading <c>~</c> is expanded with <c>HOME</c>. Null when none of them is set.
    /// </summary>
    public static string? RootFrom(Func<string, string?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        string? home = variables("HOME") is { Length: > 0 } h ? h : null;
        string Expand(string p) => home is not null && (p == "~" || p.StartsWith("~/", StringComparison.Ordinal)) ? home + p[1..] : p;
        if (variables("HF_HUB_CACHE") is { Length: > 0 } hub) return Expand(hub);
        if (variables("HF_HOME") is { Length: > 0 } hfHome) return Path.Combine(Expand(hfHome), "hub");
        return home is null ? null : Path.Combine(home, ".cache", "huggingface", "hub");
    }

    /// <summary>The cache at <see cref="RootFrom"/>; null when no variable says where it is.</summary>
    public static HfHubCache? FromEnvironment(Func<string, string?> variables) => RootFrom(variables) is { } root ? new HfHubCache(root) : null;

    /// <summary>True for a model repo id as the Hub spells it: <c>name</c> or <c>org/name</c>, letters, digits, '-', '_', '.'.</summary>
    public static bool IsRepoId(string repoId)
    {
        var parts = repoId.Split('/');
        return parts.Length is 1 or 2 && parts.All(p => p.Length > 0 && p is not ("." or "..") && !p.Contains("--", StringComparison.Ordinal)
                                                          && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
    }

    /// <summary>The repo's folder name in the cache: <c>models--org--name</c> (every '/' becomes '--').</summary>
    public static string RepoFolderName(string repoId)
    {
        if (!IsRepoId(repoId))
            throw new ArgumentException($"'{repoId}' is not a Hugging Face repo id (org/name: letters, digits, '-', '_', '.').", nameof(repoId));
        return "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);
    }

    /// <summary>The repo's folder (<c>&lt;root&gt;/models--org--name</c>), whether or not it exists.</summary>
    public string RepoFolder(string repoId) => Path.Combine(Root, RepoFolderName(repoId));

    /// <summary>
    /// The snapshot folder of <paramref name="repoId"/> at <paramref name="revision"/> (see <see cref="ResolveSnapshot"/>);
    /// a <see cref="HfCacheMissException"/> naming the cache root and the folder it expected when the repo is not cached.
    /// </summary>
    public string SnapshotFolder(string repoId, string revision = DefaultRevision)
    {
        string repo = RepoFolder(repoId);
        if (!Directory.Exists(repo))
            throw new HfCacheMissException(Root, repo, $"Hugging Face cache {Root}: '{repoId}' is not cached (expected the folder {repo}).");
        return ResolveSnapshot(repo, revision, Root);
    }

    /// <summary>
    /// The snapshot folder of a cache repo folder: <c>snapshots/&lt;hash&gt;</c> for the hash in <c>refs/&lt;revision&gt;</c>;
    /// without that ref, <c>snapshots/&lt;revision&gt;</c> when the revision is itself a commit hash, else the only snapshot
    /// there is. Several snapshots and no ref, a ref pointing at a missing snapshot, or no snapshot at all are
    /// <see cref="HfCacheMissException"/>s that name the folders they looked at.
    /// </summary>
    public static string ResolveSnapshot(string repoFolder, string revision = DefaultRevision, string? root = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repoFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(revision);
        string repo = Path.GetFullPath(repoFolder);
        string where = root is null ? repo : $"Hugging Face cache {root}: {repo}";
        if (revision.Split('/').Any(s => s is "" or "." or "..") || revision.Contains('\\'))
            throw new HfCacheMissException(root, repo, $"{where}: revision '{revision}' is not a branch, tag or commit name.");
        string snapshots = Path.Combine(repo, "snapshots");
        string reference = Path.Combine(repo, "refs", revision);
        if (!Directory.Exists(snapshots))
            throw new HfCacheMissException(root, snapshots, $"{where}: no snapshots/ folder, so nothing of this repo is cached (expected {snapshots}).");
        string hash;
        if (File.Exists(reference))
        {
            hash = File.ReadAllText(reference).Trim();
            if (hash.Length == 0 || hash.Contains('/') || hash.Contains('\\') || hash is "." or "..")
                throw new HfCacheMissException(root, reference, $"{where}: {reference} does not hold a commit hash.");
        }
        else
        {
            var candidates = Directory.GetDirectories(snapshots).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            if (Directory.Exists(Path.Combine(snapshots, revision))) hash = revision;
            else if (candidates.Count == 1) hash = candidates[0]!;
            else if (candidates.Count == 0)
                throw new HfCacheMissException(root, reference, $"{where}: no refs/{revision} and {snapshots} is empty.");
            else
                throw new HfCacheMissException(root, reference,
                    $"{where}: no refs/{revision} to choose among the {candidates.Count} snapshots in {snapshots} ({string.Join(", ", candidates)}); " +
                    $"write the commit to use into {reference}.");
        }
        string directory = Path.Combine(snapshots, hash);
        if (!Directory.Exists(directory))
            throw new HfCacheMissException(root, directory, $"{where}: refs/{revision} names commit {hash}, but {directory} does not exist.");
        return directory;
    }
}

/// <summary>
/// Something expected in the Hugging Face cache is not there. The message names the cache root, the folder or snapshot
/// looked at and the file expected; nothing is downloaded.
/// </summary>
public sealed class HfCacheMissException(string? root, string expected, string message) : BadInputException(message)
{
    /// <summary>The cache root, when the lookup started from one.</summary>
    public string? Root { get; } = root;

    /// <summary>The file or folder that was expected.</summary>
    public string Expected { get; } = expected;
}
