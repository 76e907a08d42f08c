using SaeBench.Core.Running;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Running;

public class HarnessVersionTests
{
    [Fact]
    public void Code_version_is_a_stable_hash_of_the_assemblies()
    {
        var a = HarnessVersion.Of([typeof(Runner).Assembly]);
        var b = HarnessVersion.Of([typeof(Runner).Assembly]);
        Assert.Equal(a.Code, b.Code);
        Assert.Matches("^asm:[0-9a-f]{16}$", a.Code);
        Assert.NotEqual(a.Code, HarnessVersion.Of([typeof(Runner).Assembly, typeof(Compute.Backends.ComputeBackend).Assembly]).Code);
    }

    [Fact]
    public void Commit_is_read_from_loose_and_packed_refs_and_worktrees()
    {
        using var tmp = new TempDirectory();
        const string hash1 = "0123456789abcdef0123456789abcdef01234567", hash2 = "89abcdef0123456789abcdef0123456789abcdef";
        var git = tmp.Directory("repo", ".git");
        File.WriteAllText(Path.Combine(git, "HEAD"), "ref: refs/heads/main\n");
        Directory.CreateDirectory(Path.Combine(git, "refs", "heads"));
        File.WriteAllText(Path.Combine(git, "refs", "heads", "main"), hash1 + "\n");
        var nested = tmp.Directory("repo", "src", "deep");
        Assert.Equal(hash1, GitCommit.Find(nested));

        File.Delete(Path.Combine(git, "refs", "heads", "main"));
        File.WriteAllText(Path.Combine(git, "packed-refs"), "# pack-refs with: peeled\n" + hash2 + " refs/heads/main\n");
        Assert.Equal(hash2, GitCommit.Find(nested));

        // A worktree: .git is a file pointing at <common>/worktrees/wt, whose commondir points back.
        var wtGit = tmp.Directory("repo", ".git", "worktrees", "wt");
        File.WriteAllText(Path.Combine(wtGit, "HEAD"), hash1 + "\n");
        File.WriteAllText(Path.Combine(wtGit, "commondir"), "../..\n");
        var wt = tmp.Directory("wt");
        File.WriteAllText(Path.Combine(wt, ".git"), "gitdir: " + wtGit + "\n");
        Assert.Equal(hash1, GitCommit.Find(wt));
    }

    [Fact]
    public void No_repository_means_no_commit()
    {
        using var tmp = new TempDirectory();
        var dir = tmp.Directory("not-a-repo");
        File.WriteAllText(Path.Combine(tmp.Path, ".git"), "not a gitdir line\n"); // a stray .git file stops the search
        Assert.Null(GitCommit.Find(dir));
    }
}
