using System.Security.Cryptography;

namespace SaeBench.Core.Tests.HuggingFace;

/// <summary>
/// A Hugging Face Hub cache tree in a test folder, laid out as huggingface_hub writes it:
/// <c>models--org--name/refs/main</c> holds the commit, <c>snapshots/&lt;commit&gt;/&lt;path&gt;</c> the files — as symlinks to
/// <c>../../blobs/&lt;sha256&gt;</c> when asked (as the Hub client does), or plain copies.
/// </summary>
public sealed class FakeHubCache(string root)
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    public string Root { get; } = root;

    public string RepoFolder(string repoId) => Path.Combine(Root, "models--" + repoId.Replace("/", "--"));

    public string Snapshot(string repoId, string commit = Commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);

    /// <summary>Writes <c>refs/&lt;revision&gt;</c> pointing at <paramref name="commit"/>.</summary>
    public FakeHubCache Ref(string repoId, string commit = Commit, string revision = "main")
    {
        var file = Path.Combine(RepoFolder(repoId), "refs", revision);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, commit); // huggingface_hub writes the hash without a newline
        return this;
    }

    /// <summary>Puts <paramref name="bytes"/> at <paramref name="pathInRepo"/> in the snapshot, as a symlink into blobs/ or a plain file.</summary>
    public string Add(string repoId, string pathInRepo, byte[] bytes, bool symlink = true, string commit = Commit)
    {
        string target = Path.Combine(Snapshot(repoId, commit), pathInRepo);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (!symlink)
        {
            File.WriteAllBytes(target, bytes);
            return target;
        }
        string blobs = Path.Combine(RepoFolder(repoId), "blobs");
        Directory.CreateDirectory(blobs);
        string blob = Path.Combine(blobs, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        File.WriteAllBytes(blob, bytes);
        File.CreateSymbolicLink(target, Path.GetRelativePath(Path.GetDirectoryName(target)!, blob));
        return target;
    }

    /// <summary>Copies every file of <paramref name="folder"/> into the snapshot under <paramref name="pathInRepo"/>, the first as a symlink.</summary>
    public string AddFolder(string repoId, string pathInRepo, string folder, string commit = Commit)
    {
        bool first = true;
        foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
        {
            Add(repoId, Path.Combine(pathInRepo, Path.GetFileName(file)), File.ReadAllBytes(file), symlink: first, commit: commit);
            first = false;
        }
        return Path.Combine(Snapshot(repoId, commit), pathInRepo);
    }
}
