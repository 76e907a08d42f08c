using System.Globalization;
using System.Text;

namespace SaeBench.Models.Files;

/// <summary>
/// Labels for activation files: a CSV with a header row and a <c>label</c> column, one row per example. Each distinct
/// label is a class: when every label is a non-negative integer the classes are numbered in numeric order (labels
/// 0…K−1 are their own class indices), otherwise in ordinal order of the text. An empty cell means "unlabelled" (−1).
/// The class count is therefore at most the row count, whatever the labels' values (a label <c>1000000000</c> is one
/// class, not a billion). A field longer than <see cref="MaxFieldChars"/> or more rows than examples are refused as soon
/// as they are read.
/// </summary>
internal static class LabelsCsv
{
    public const string Column = "label";

    /// <summary>Longest field read (a label is a name, not a document).</summary>
    public const int MaxFieldChars = 64 * 1024;

    /// <summary>Reads the raw label texts of a file, checking the column and the row count.</summary>
    public static string[] ReadTexts(string path, long expectedRows)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: labels file not found.", path);
        using var reader = new StreamReader(path);
        var header = ReadRecord(reader, path, 1)
            ?? throw new InvalidDataException($"{path}: empty labels file; expected a header row with a '{Column}' column.");
        int index = header.FindIndex(h => string.Equals(h.Trim(), Column, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
            throw new InvalidDataException($"{path}: no '{Column}' column (columns: {string.Join(", ", header)}).");
        var values = new List<string>();
        for (int line = 2; ReadRecord(reader, path, line) is { } record; line++)
        {
            if (record.Count == 1 && record[0].Length == 0) continue; // blank line
            if (index >= record.Count)
                throw new InvalidDataException($"{path}: row {line} has {record.Count} fields, no '{Column}' field.");
            values.Add(record[index].Trim());
            if (values.Count > expectedRows)
                throw new InvalidDataException($"{path}: more label rows than the {expectedRows} examples; field '{Column}' needs one row per example.");
        }
        if (values.Count != expectedRows)
            throw new InvalidDataException($"{path}: {values.Count} label rows for {expectedRows} examples; field '{Column}' needs one row per example.");
        return values.ToArray();
    }

    /// <summary>One RFC 4180 record (comma-separated, double-quoted fields may hold commas, quotes and newlines), or null at the end.</summary>
    private static List<string>? ReadRecord(TextReader reader, string path, int line)
    {
        int c = reader.Read();
        if (c < 0) return null;
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        while (true)
        {
            if (quoted)
            {
                if (c < 0) throw new InvalidDataException($"{path}: unterminated quoted field in row {line}.");
                if (c == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else field.Append((char)c);
            }
            else if (c < 0 || c == '\n')
            {
                fields.Add(field.ToString().TrimEnd('\r'));
                return fields;
            }
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c == '"' && field.ToString().Trim().Length == 0) { field.Clear(); quoted = true; }
            else field.Append((char)c);
            if (field.Length > MaxFieldChars)
                throw new InvalidDataException($"{path}: row {line} has a field longer than {MaxFieldChars} characters; is this a labels CSV?");
            c = reader.Read();
        }
    }

    /// <summary>Maps the label texts of several splits to class indices with one shared list of class names.</summary>
    public static (string[] ClassNames, int[][] Labels) ToClasses(IReadOnlyList<string[]> splits)
    {
        var all = splits.SelectMany(s => s).Where(v => v.Length > 0).ToList();
        bool numeric = all.All(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        string[] names;
        Func<string, int> map;
        if (numeric)
        {
            var values = all.Select(v => int.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)).Distinct().Order().ToArray();
            names = values.Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            var index = values.Select((v, i) => (v, i)).ToDictionary(t => t.v, t => t.i);
            map = v => index[int.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)];
        }
        else
        {
            names = all.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            var index = names.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i, StringComparer.Ordinal);
            map = v => index[v];
        }
        var labels = splits.Select(s => s.Select(v => v.Length == 0 ? -1 : map(v)).ToArray()).ToArray();
        return (names, labels);
    }
}
