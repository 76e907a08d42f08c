using System.Globalization;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using SaeBench.Core;
using SaeBench.Core.Models;

namespace SaeBench.Models.Language.Data;

/// <summary>
/// Labelled text datasets from local files (<see cref="ILabelledTextSource"/>): JSON lines, CSV (RFC 4180 quoting, a
/// header row) or Parquet, with the text, label and optional split fields named by the request. Labels are read as text
/// (numbers in invariant form, so <c>1.0</c> and <c>1</c> stay distinct as the file spells them). Rows with an empty
/// text are skipped. Every problem is a <see cref="BadInputException"/> naming the file, the row and the field.
/// </summary>
public static class LabelledTextFiles
{
    public static LabelledTexts Read(LabelledTextRequest request)
    {
        if (!System.IO.Path.HasExtension(request.Path) || !File.Exists(request.Path))
        {
            // SAEBench's dataset names come without an extension: take the first of .parquet, .jsonl, .csv that exists.
            var found = new[] { ".parquet", ".jsonl", ".csv" }.Select(e => request.Path + e).FirstOrDefault(File.Exists);
            if (found is not null) request = request with { Path = found };
        }
        if (!File.Exists(request.Path)) throw new BadInputException($"{request.Path}: labelled text file not found (with no extension, .parquet, .jsonl and .csv are tried).");
        var ext = System.IO.Path.GetExtension(request.Path).ToLowerInvariant();
        var rows = ext switch
        {
            ".jsonl" or ".json" => JsonLines(request),
            ".csv" => Csv(request),
            ".parquet" => ParquetRows(request),
            _ => throw new BadInputException($"{request.Path}: unknown extension '{ext}' (give .jsonl, .csv or .parquet)."),
        };
        var texts = new List<string>();
        var labels = new List<string>();
        var splits = new List<string?>();
        foreach (var (text, label, split) in rows)
        {
            if (string.IsNullOrEmpty(text)) continue;
            texts.Add(text);
            labels.Add(label);
            splits.Add(split);
        }
        return new LabelledTexts(texts, labels, splits);
    }

    /// <summary>Every row as a JSON object: JSON lines, a JSON array of objects, CSV (strings) or Parquet (scalars).</summary>
    public static IReadOnlyList<System.Text.Json.Nodes.JsonObject> Records(string path)
    {
        if (!File.Exists(path)) throw new BadInputException($"{path}: data file not found.");
        var ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var result = new List<System.Text.Json.Nodes.JsonObject>();
        switch (ext)
        {
            case ".jsonl":
                int number = 0;
                foreach (var line in File.ReadLines(path))
                {
                    number++;
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    result.Add(ParseObject(line, $"{path}: line {number}"));
                }
                break;
            case ".json":
                System.Text.Json.Nodes.JsonNode? root;
                try { root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)); }
                catch (JsonException e) { throw new BadInputException($"{path}: not valid JSON ({e.Message}).", e); }
                if (root is not System.Text.Json.Nodes.JsonArray array) throw new BadInputException($"{path}: expected a JSON array of objects.");
                for (int i = 0; i < array.Count; i++)
                    result.Add(array[i] as System.Text.Json.Nodes.JsonObject ?? throw new BadInputException($"{path}: item {i} is not an object."));
                break;
            case ".csv":
                using (var reader = new StreamReader(path))
                {
                    var header = ReadRecord(reader) ?? throw new BadInputException($"{path}: empty file (a header row is needed).");
                    int row = 1;
                    while (ReadRecord(reader) is { } record)
                    {
                        row++;
                        if (record.Count == 1 && record[0].Length == 0) continue;
                        if (record.Count != header.Count) throw new BadInputException($"{path}: row {row}: {record.Count} fields for {header.Count} columns.");
                        var o = new System.Text.Json.Nodes.JsonObject();
                        for (int c = 0; c < header.Count; c++) o[header[c]] = record[c];
                        result.Add(o);
                    }
                }
                break;
            default:
                throw new BadInputException($"{path}: unknown extension '{ext}' (give .jsonl, .json or .csv).");
        }
        return result;
    }

    /// <summary>A whole JSON file through <see cref="Core.StrictJson"/>, or null when it does not exist.</summary>
    public static System.Text.Json.Nodes.JsonNode? JsonFile(string path)
    {
        if (!File.Exists(path)) return null;
        try { return Core.StrictJson.ParseNode(File.ReadAllBytes(path)) ?? throw new BadInputException($"{path}: the file is JSON null."); }
        catch (JsonException e) { throw new BadInputException($"{path}: not valid JSON ({e.Message}).", e); }
    }

    private static System.Text.Json.Nodes.JsonObject ParseObject(string text, string where)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(text) as System.Text.Json.Nodes.JsonObject ?? throw new BadInputException($"{where}: expected a JSON object.");
        }
        catch (JsonException e) { throw new BadInputException($"{where}: not valid JSON ({e.Message}).", e); }
    }

    private static IEnumerable<(string? Text, string Label, string? Split)> JsonLines(LabelledTextRequest r)
    {
        int number = 0;
        foreach (var line in File.ReadLines(r.Path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = Core.StrictJson.Parse(line); }
            catch (JsonException e) { throw new BadInputException($"{r.Path}: line {number}: not valid JSON ({e.Message}).", e); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BadInputException($"{r.Path}: line {number}: expected a JSON object.");
                string? Field(string name, bool required)
                {
                    if (!doc.RootElement.TryGetProperty(name, out var v))
                        return required ? throw new BadInputException($"{r.Path}: line {number}: field '{name}' is missing (fields: {string.Join(", ", doc.RootElement.EnumerateObject().Select(p => p.Name))}).") : null;
                    return v.ValueKind switch
                    {
                        JsonValueKind.String => v.GetString(),
                        JsonValueKind.Number => v.GetRawText(),
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        JsonValueKind.Null => null,
                        _ => throw new BadInputException($"{r.Path}: line {number}: field '{name}' is {v.ValueKind}, not a string or number."),
                    };
                }
                var label = Field(r.LabelField, true) ?? throw new BadInputException($"{r.Path}: line {number}: field '{r.LabelField}' is null.");
                yield return (Field(r.TextField, true), label, r.SplitField is null ? null : Field(r.SplitField, false));
            }
        }
    }

    private static IEnumerable<(string? Text, string Label, string? Split)> Csv(LabelledTextRequest r)
    {
        using var reader = new StreamReader(r.Path);
        var header = ReadRecord(reader) ?? throw new BadInputException($"{r.Path}: empty file (a header row is needed).");
        int Column(string name, bool required)
        {
            int i = header.IndexOf(name);
            if (i < 0 && required) throw new BadInputException($"{r.Path}: column '{name}' not found (columns: {string.Join(", ", header)}).");
            return i;
        }
        int text = Column(r.TextField, true), label = Column(r.LabelField, true), split = r.SplitField is null ? -1 : Column(r.SplitField, false);
        int row = 1;
        while (ReadRecord(reader) is { } record)
        {
            row++;
            if (record.Count == 1 && record[0].Length == 0) continue;
            if (record.Count != header.Count) throw new BadInputException($"{r.Path}: row {row}: {record.Count} fields for {header.Count} columns.");
            yield return (record[text], record[label], split < 0 ? null : record[split]);
        }
    }

    /// <summary>One CSV record (quoted fields may hold commas, quotes as "" and newlines); null at the end of the file.</summary>
    private static List<string>? ReadRecord(TextReader reader)
    {
        int c = reader.Read();
        if (c < 0) return null;
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (; c >= 0; c = reader.Read())
        {
            char ch = (char)c;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else field.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (ch == '\n') break;
            else if (ch != '\r') field.Append(ch);
        }
        fields.Add(field.ToString());
        return fields;
    }

    private static IEnumerable<(string? Text, string Label, string? Split)> ParquetRows(LabelledTextRequest r)
    {
        var result = new List<(string?, string, string?)>();
        using var stream = File.OpenRead(r.Path);
        ParquetReader reader;
        try { reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new BadInputException($"{r.Path}: not a readable Parquet file ({e.Message}).", e);
        }
        try
        {
            DataField? Field(string name, bool required) =>
                reader.Schema.DataFields.FirstOrDefault(f => f.Name == name)
                ?? (required ? throw new BadInputException($"{r.Path}: column '{name}' not found (columns: {string.Join(", ", reader.Schema.DataFields.Select(f => f.Name))}).") : null);
            var text = Field(r.TextField, true)!;
            var label = Field(r.LabelField, true)!;
            var split = r.SplitField is null ? null : Field(r.SplitField, false);
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                int n = checked((int)group.RowCount);
                var texts = Strings(group, text, n, r.Path);
                var labels = Strings(group, label, n, r.Path);
                var splits = split is null ? null : Strings(group, split, n, r.Path);
                for (int i = 0; i < n; i++)
                    result.Add((texts[i], labels[i] ?? throw new BadInputException($"{r.Path}: row {i}: column '{r.LabelField}' is null."), splits?[i]));
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return result;
    }

    private static string?[] Strings(ParquetRowGroupReader group, DataField field, int n, string path)
    {
        if (field.IsArray) throw new BadInputException($"{path}: column '{field.Name}' holds lists, not single values.");
        T?[] Read<T>() where T : struct
        {
            var values = new T?[n];
            group.ReadAsync(field, values.AsMemory(), null, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return values;
        }
        var t = field.ClrType;
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[n];
            group.ReadAsync(field, values.AsMemory(), null, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return values;
        }
        static string? Inv<T>(T? v) where T : struct, IFormattable => v?.ToString(typeof(T) == typeof(double) || typeof(T) == typeof(float) ? "R" : null, CultureInfo.InvariantCulture);
        if (t == typeof(int)) return Read<int>().Select(Inv).ToArray();
        if (t == typeof(long)) return Read<long>().Select(Inv).ToArray();
        if (t == typeof(double)) return Read<double>().Select(Inv).ToArray();
        if (t == typeof(float)) return Read<float>().Select(Inv).ToArray();
        if (t == typeof(bool)) return Read<bool>().Select(v => v?.ToString().ToLowerInvariant()).ToArray();
        throw new BadInputException($"{path}: column '{field.Name}' holds {t.Name}; labels and texts must be strings, integers, floats or booleans.");
    }
}
