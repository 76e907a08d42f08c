using System.Security.Cryptography;

namespace SaeBench.Core.Checkpoints;

/// <summary>Content identity of a checkpoint: SHA-256 over its identity files, streamed (constant memory).</summary>
public static class CheckpointHash
{
    /// <summary>
    /// Lower-case hex SHA-256 of the files concatenated in order (configuration, then weights) — the same as
    /// <c>cat cfg.json sae_weights.safetensors | sha256sum</c>.
    /// </summary>
    public static string Compute(IReadOnlyList<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var file in files)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0) hash.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// The checkpoint's SHA-256, from <paramref name="cache"/> when its files are unchanged since it was remembered,
    /// otherwise computed (and remembered).
    /// </summary>
    public static string GetOrCompute(CheckpointLayout layout, CheckpointDigestCache? cache)
    {
        CheckpointDigest Complete(CheckpointDigest? known) => known ?? new CheckpointDigest(Compute(layout.IdentityFiles), null);
        return (cache?.Update(layout, Complete) ?? Complete(null)).Sha256;
    }

    /// <summary>Bytes <see cref="Compute"/> reads for <paramref name="layout"/>: the sizes of its identity files (of what a
    /// symbolic link leads to, not of the link).</summary>
    public static long BytesToHash(CheckpointLayout layout) => layout.IdentityFiles.Sum(LengthOf);

    private static long LengthOf(string file)
    {
        var info = new FileInfo(file);
        return (info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info) is { Exists: true } f ? f.Length : 0;
    }
}
