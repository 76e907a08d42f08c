using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SaeBench.Core.Results;

/// <summary>
/// Writes files so that readers see either the old content or the complete new content, never a part. The temporary
/// file sits next to the target and carries its owner — process id, process start time and a hash of the host name —
/// so that <see cref="CleanOrphans"/>, run by every process that starts writing into a directory (shards into one
/// output directory, overlapping runs), removes only what is provably abandoned and never another process's file in
/// flight. A write that fails because of the machine (denied, read-only, disk full, a file in the way) is an
/// <see cref="EnvironmentFailureException"/> naming the path and saying what to do.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>A temp file whose owner cannot be checked (another host, or an older name) is abandoned after this long.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromHours(24);

    private static readonly Lazy<Owner> This = new(() =>
    {
        using var self = Process.GetCurrentProcess();
        return new Owner(Environment.ProcessId, new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeSeconds(), HostHash(Environment.MachineName));
    });

    /// <summary>Writes to a temp file in the same directory, flushes it to disk, then renames it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, TempName(Path.GetFileName(full), This.Value));
        try
        {
            Directory.CreateDirectory(dir);
            using (var s = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(s);
                s.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException) throw EnvironmentFailureException.Writing(full, e);
            throw;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s =>
        {
            using var w = new StreamWriter(s, new UTF8Encoding(false), leaveOpen: true);
            w.Write(text);
        });

    /// <summary>
    /// Creates <paramref name="directory"/> if needed and proves that a file can be written into it (a probe written
    /// atomically, then deleted), so that a run fails before any work when its output directory is denied, read-only,
    /// a file or on a full disk (<see cref="EnvironmentFailureException"/>).
    /// </summary>
    public static void CheckWritable(string directory)
    {
        var probe = Path.Combine(Path.GetFullPath(directory), ".saebench-write-check");
        if (File.Exists(Path.GetFullPath(directory)))
            throw EnvironmentFailureException.Writing(directory, new IOException($"'{directory}' is a file, not a directory", 17));
        try
        {
            Write(probe, s => s.WriteByte((byte)'\n'));
        }
        catch (EnvironmentFailureException e) when (e.InnerException is { } cause)
        {
            throw EnvironmentFailureException.Writing(Path.GetFullPath(directory), cause); // name the directory, not the probe
        }
        try { File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Removes temp files (<c>.*.tmp</c>, under <paramref name="directory"/>) that are provably abandoned: written by a
    /// process of this host that is no longer running (its id is gone, or now belongs to a process started at another
    /// time), or — when the owner cannot be checked — not modified for <see cref="AbandonedAfter"/>. Another live
    /// process's file in flight is never touched. Best effort: what cannot be listed or deleted is left. Returns the count removed.
    /// </summary>
    public static int CleanOrphans(string directory) => CleanOrphans(directory, DateTimeOffset.UtcNow);

    internal static int CleanOrphans(string directory, DateTimeOffset now)
    {
        if (!Directory.Exists(directory)) return 0;
        int n = 0;
        try
        {
            // AttributesToSkip = 0: temp names start with '.', which .NET treats as Hidden on Unix and skips by default.
            foreach (var f in Directory.EnumerateFiles(directory, ".*.tmp", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 }))
            {
                try
                {
                    if (!IsAbandoned(f, now)) continue;
                    File.Delete(f);
                    n++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return n;
    }

    private static bool IsAbandoned(string file, DateTimeOffset now)
    {
        bool old = now - File.GetLastWriteTimeUtc(file) > AbandonedAfter;
        var m = OwnerPattern().Match(Path.GetFileName(file));
        if (!m.Success) return old;
        var owner = new Owner(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value);
        if (owner.Host != This.Value.Host) return old;
        return !IsRunning(owner);
    }

    /// <summary>Whether the process that owns a temp file (same host) still runs: same id, started at the same second (±2 s).</summary>
    private static bool IsRunning(Owner owner)
    {
        if (owner.Pid == This.Value.Pid) return Math.Abs(owner.StartSeconds - This.Value.StartSeconds) <= 2;
        try
        {
            using var p = Process.GetProcessById(owner.Pid);
            if (p.HasExited) return false;
            long start = new DateTimeOffset(p.StartTime.ToUniversalTime()).ToUnixTimeSeconds();
            return Math.Abs(start - owner.StartSeconds) <= 2;
        }
        catch (ArgumentException) { return false; }           // no such process
        catch (InvalidOperationException) { return false; }   // exited meanwhile
        catch (System.ComponentModel.Win32Exception) { return true; } // cannot tell: assume it runs
    }

    /// <summary>Who wrote a temp file: process id, start time (Unix seconds) and an 8-hex hash of the host name.</summary>
    internal sealed record Owner(int Pid, long StartSeconds, string Host);

    /// <summary>The temp file name for <paramref name="fileName"/> written by <paramref name="owner"/>: the target's name
    /// (cut to 100 characters, so the temp name fits any file system that fits the target), the owner, a random part.</summary>
    internal static string TempName(string fileName, Owner owner) =>
        "." + (fileName.Length <= 100 ? fileName : fileName[..100]) +
        string.Create(CultureInfo.InvariantCulture, $".p{owner.Pid}-{owner.StartSeconds}-{owner.Host}.{Guid.NewGuid().ToString("N")[..8]}.tmp");

    /// <summary>This process as the owner of temp files.</summary>
    internal static Owner Self => This.Value;

    internal static string HostHash(string host)
    {
        uint h = 2166136261;
        foreach (char c in host) h = (h ^ c) * 16777619;
        return h.ToString("x8", CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"\.p(\d{1,10})-(\d{1,19})-([0-9a-f]{8})\.[0-9a-f]{8}\.tmp$")]
    private static partial Regex OwnerPattern();
}
