using System.Text;
using System.Text.RegularExpressions;

namespace SaeBench.Core.Registry;

/// <summary>
/// File-system globbing: <c>*</c> and <c>?</c> within one path segment, <c>[abc]</c> / <c>[!abc]</c> classes, and
/// <c>**</c> for any number of directories. Matches files and directories; results are sorted (ordinal) so runs are
/// deterministic. Symbolic links are followed, but <c>**</c> expands each real directory once, so a link loop (or two
/// links to one directory) neither repeats matches nor runs forever; it descends at most <see cref="MaxDepth"/> levels.
/// Matching is linear in the name (no backtracking). A pattern that cannot match anything — a segment longer than a file
/// name can be, an unclosed class — is an <see cref="ArgumentException"/> saying why.
/// </summary>
public static class Glob
{
    /// <summary>Longest pattern accepted.</summary>
    public const int MaxPatternLength = 4096;

    /// <summary>Longest segment: no file name is longer.</summary>
    public const int MaxSegmentLength = 255;

    /// <summary>Deepest a <c>**</c> descends below where it starts.</summary>
    public const int MaxDepth = 64;

    /// <summary>Most directories one pattern may list (<c>/**</c> would list the whole file system).</summary>
    public const int MaxDirectories = 50_000;

    /// <summary>Most paths one pattern may match (each match is then looked at as a checkpoint).</summary>
    public const int MaxMatches = 10_000;

    public static IReadOnlyList<string> Match(string pattern, string baseDirectory) => Match(pattern, baseDirectory, MaxDirectories);

    internal static IReadOnlyList<string> Match(string pattern, string baseDirectory, int maxDirectories)
    {
        if (pattern.Length > MaxPatternLength)
            throw new ArgumentException($"the pattern has {pattern.Length} characters, more than the {MaxPatternLength} allowed");
        if (pattern.Contains('\0')) throw new ArgumentException("the pattern holds a NUL character");
        string original = pattern;
        pattern = pattern.Replace('\\', '/');
        string root;
        if (Path.IsPathRooted(pattern))
        {
            root = Path.GetPathRoot(pattern)!;
            pattern = pattern[root.Length..];
        }
        else root = baseDirectory;
        var segments = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var regexes = new Regex?[segments.Length];
        for (int i = 0; i < segments.Length; i++)
        {
            if (segments[i].Length > MaxSegmentLength)
                throw new ArgumentException($"the segment '{segments[i][..40]}…' has {segments[i].Length} characters; no file name is longer than {MaxSegmentLength}");
            if (segments[i] != "**" && HasWildcard(segments[i])) regexes[i] = ToRegex(segments[i]);
        }
        var results = new SortedSet<string>(StringComparer.Ordinal);
        new Walker(original, segments, regexes, results, maxDirectories).Walk(root, 0, 0);
        return results.ToList();
    }

    public static bool HasWildcard(string segment) => segment.IndexOfAny(['*', '?', '[']) >= 0;

    private sealed class Walker(string pattern, string[] segments, Regex?[] regexes, SortedSet<string> results, int maxDirectories)
    {
        // (real directory, segment index) pairs a ** has expanded.
        private readonly HashSet<(string, int)> _expanded = [];
        private int _listed;

        private IEnumerable<string> List(string dir, bool directoriesOnly)
        {
            if (++_listed > maxDirectories)
                throw new ArgumentException($"'{pattern}' lists more than {maxDirectories} directories; narrow the pattern (start it below the folder that holds the checkpoints)");
            return directoriesOnly ? SafeDirectories(dir) : SafeEntries(dir);
        }

        public void Walk(string current, int index, int depth)
        {
            if (index == segments.Length)
            {
                if ((File.Exists(current) || Directory.Exists(current)) && results.Add(Path.GetFullPath(current)) && results.Count > MaxMatches)
                    throw new ArgumentException($"'{pattern}' matches more than {MaxMatches} paths; narrow the pattern (start it below the folder that holds the checkpoints)");
                return;
            }
            string segment = segments[index];
            if (segment == "**")
            {
                if (depth > MaxDepth || RealPath.Of(current) is not { } real || !_expanded.Add((real, index))) return;
                Walk(current, index + 1, depth);
                foreach (var sub in List(current, directoriesOnly: true)) Walk(sub, index, depth + 1);
                return;
            }
            if (regexes[index] is not { } regex)
            {
                var next = Path.Combine(current, segment);
                if (index == segments.Length - 1 || Directory.Exists(next)) Walk(next, index + 1, depth);
                return;
            }
            bool last = index == segments.Length - 1;
            foreach (var entry in List(current, directoriesOnly: !last))
                if (regex.IsMatch(Path.GetFileName(entry))) Walk(entry, index + 1, depth);
        }
    }

    private static IEnumerable<string> SafeDirectories(string dir)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetDirectories(dir).Order(StringComparer.Ordinal) : [];
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return [];
        }
    }

    private static IEnumerable<string> SafeEntries(string dir)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Order(StringComparer.Ordinal) : [];
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return [];
        }
    }

    private static Regex ToRegex(string segment)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < segment.Length; i++)
        {
            char c = segment[i];
            switch (c)
            {
                case '*': sb.Append("[^/]*"); break;
                case '?': sb.Append("[^/]"); break;
                case '[':
                    int close = segment.IndexOf(']', i + 1);
                    if (close < 0) { sb.Append(@"\["); break; }
                    var body = segment[(i + 1)..close];
                    bool negated = body.StartsWith('!');
                    if (negated) body = body[1..];
                    if (body.Length == 0) throw new ArgumentException($"the segment '{segment}' has an empty character class '[{(negated ? "!" : "")}]'");
                    sb.Append('[').Append(negated ? "^" : "").Append(Regex.Escape(body)).Append(']');
                    i = close;
                    break;
                default: sb.Append(Regex.Escape(c.ToString())); break;
            }
        }
        try
        {
            return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"the segment '{segment}' is not a valid pattern ({e.Message})", e);
        }
    }
}
