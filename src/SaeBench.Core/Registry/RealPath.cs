using System.Runtime.InteropServices;

namespace SaeBench.Core.Registry;

/// <summary>
/// The canonical path of a file or directory, every symbolic link resolved (POSIX <c>realpath</c>): what the registry's
/// directory walks use to visit each real directory once, however many links lead to it (symlink loops, Hugging Face
/// snapshots pointing into a blob store).
/// </summary>
internal static partial class RealPath
{
    /// <summary>The resolved absolute path, or null when it cannot be resolved (missing, a loop, denied).</summary>
    public static string? Of(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD()) return Managed(path);
        nint resolved;
        try
        {
            resolved = RealPathNative(path, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Managed(path);
        }
        if (resolved == 0) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>Without libc: the full path with its last component's links resolved (walks still end: they are depth-limited).</summary>
    private static string? Managed(string path)
    {
        try
        {
            var info = new DirectoryInfo(Path.GetFullPath(path));
            return (info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true))?.FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);
}
