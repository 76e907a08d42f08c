using System.IO.Compression;

namespace SaeBench.Core.Checkpoints;

/// <summary>What the zip-based checkpoint readers (torch zips, NumPy .npz) share about damaged archives.</summary>
internal static class ZipArchives
{
    /// <summary>What <see cref="ZipArchive"/> throws for a damaged archive: its central directory is read lazily, on first
    /// access to <see cref="ZipArchive.Entries"/>, and each entry's header when it is opened (an unknown compression method
    /// is a <see cref="NotSupportedException"/>).</summary>
    public static bool IsCorrupt(Exception e) => e is InvalidDataException or NotSupportedException or IOException;
}
