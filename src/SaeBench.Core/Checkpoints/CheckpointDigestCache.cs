using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using SaeBench.Core.Results;

namespace SaeBench.Core.Checkpoints;

/// <summary>Non-finite values found in one tensor: how many, and the row-major index of the first.</summary>
public sealed record NonFiniteCount(long Count, long FirstElement);

/// <summary>What a full read of a checkpoint's tensors found: decoder-norm statistics and non-finite values per tensor.</summary>
public sealed record CheckpointScan(SummaryStats? DecoderNorms, IReadOnlyDictionary<string, NonFiniteCount> NonFinite);

/// <summary>The facts about a checkpoint that cost a read of all its bytes: its SHA-256 and, once scanned, the scan.</summary>
public sealed record CheckpointDigest(string Sha256, CheckpointScan? Scan);

/// <summary>
/// Remembers <see cref="CheckpointDigest"/>s so that the bytes of an unchanged checkpoint are read once, not on every
/// <c>inspect</c> or run. An entry is keyed by the checkpoint's identity files and is used only while every one of them
/// still has the same full path, length, modification time (100 ns ticks) and SHA-256 of its first and last 64 KiB; any
/// change makes it a miss. The cache is an optimisation only: an unreadable, corrupt or unwritable entry is a miss,
/// never an error.
/// </summary>
public sealed class CheckpointDigestCache(string directory)
{
    private const string Schema = "saebench-checkpoint-digest-v1";
    private const int SampleBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The folder holding one JSON file per checkpoint.</summary>
    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>The remembered digest, or null when there is none or the files changed since it was stored.</summary>
    public CheckpointDigest? TryGet(CheckpointLayout layout) => Fingerprints(layout) is { } now ? Read(layout, now) : null;

    /// <summary>
    /// Passes the remembered digest (or null) to <paramref name="complete"/>, which returns the digest the caller needs
    /// (the same object when the remembered one is enough). A new digest is stored, atomically, only when the files'
    /// fingerprints were the same before and after <paramref name="complete"/> ran, so a checkpoint rewritten while it
    /// was being read is never remembered with the wrong content.
    /// </summary>
    public CheckpointDigest Update(CheckpointLayout layout, Func<CheckpointDigest?, CheckpointDigest> complete)
    {
        var before = Fingerprints(layout);
        var known = before is null ? null : Read(layout, before);
        var digest = complete(known);
        if (before is null || ReferenceEquals(digest, known)) return digest;
        if (Fingerprints(layout) is not { } after || !after.SequenceEqual(before)) return digest;
        try
        {
            AtomicFile.WriteAllText(EntryPath(layout), JsonSerializer.Serialize(new Entry(Schema, before, digest.Sha256, digest.Scan), Json));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or full cache folder costs time on the next run, nothing else.
        }
        return digest;
    }

    private CheckpointDigest? Read(CheckpointLayout layout, List<FileFingerprint> now)
    {
        try
        {
            var path = EntryPath(layout);
            if (!File.Exists(path)) return null;
            var entry = JsonSerializer.Deserialize<Entry>(File.ReadAllText(path), Json);
            if (entry is null || entry.Schema != Schema || entry.Sha256 is not { Length: 64 } sha) return null;
            return entry.Files is not null && entry.Files.SequenceEqual(now) ? new CheckpointDigest(sha, entry.Scan) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }

    private string EntryPath(CheckpointLayout layout)
    {
        string key = string.Join('\n', layout.IdentityFiles.Select(Path.GetFullPath));
        return Path.Combine(Directory, Hashing.Sha256(key)[..32] + ".json");
    }

    private static List<FileFingerprint>? Fingerprints(CheckpointLayout layout)
    {
        try
        {
            return layout.IdentityFiles.Select(Fingerprint).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static FileFingerprint Fingerprint(string file)
    {
        var info = new FileInfo(file);
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long length = stream.Length;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[SampleBytes];
        void Sample(long offset, int count)
        {
            stream.Position = offset;
            stream.ReadExactly(buffer, 0, count);
            hash.AppendData(buffer, 0, count);
        }
        Sample(0, (int)Math.Min(SampleBytes, length));
        if (length > SampleBytes) Sample(Math.Max(SampleBytes, length - SampleBytes), (int)Math.Min(SampleBytes, length - SampleBytes));
        // A symbolic link (Hugging Face cache, DVC, git-annex) is judged by the file it leads to: its length (from the open
        // stream above) and its modification time, not the link's own.
        var content = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        return new FileFingerprint(info.FullName, length, content.LastWriteTimeUtc.Ticks, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private sealed record FileFingerprint(string Path, long Length, long ModifiedTicks, string SampleSha256);

    private sealed record Entry(string Schema, List<FileFingerprint>? Files, string? Sha256, CheckpointScan? Scan);
}
