using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace SaeBench.Models.Language.Data;

/// <summary>File formats a text corpus can come in.</summary>
public enum TextFormat
{
    /// <summary>By extension: <c>.txt</c>, <c>.jsonl</c>/<c>.json</c>, <c>.parquet</c>.</summary>
    Auto,

    /// <summary>Plain text, one document per line (as the Hugging Face <c>text</c> loader reads it; empty lines give nothing).</summary>
    Text,

    /// <summary>One JSON object per line; the document is a string field.</summary>
    JsonLines,

    /// <summary>Apache Parquet; the document is a string column.</summary>
    Parquet,
}

/// <summary>A local corpus file and which field (JSON Lines) or column (Parquet) holds the text.</summary>
public sealed record TextSource(string Path, string Field = "text", TextFormat Format = TextFormat.Auto)
{
    public TextFormat ResolvedFormat => Format != TextFormat.Auto
        ? Format
        : System.IO.Path.GetExtension(Path).ToLowerInvariant() switch
        {
            ".txt" or ".text" => TextFormat.Text,
            ".jsonl" or ".json" or ".ndjson" => TextFormat.JsonLines,
            ".parquet" => TextFormat.Parquet,
            var e => throw new ArgumentException($"{Path}: cannot tell the format from the extension '{e}' (use .txt, .jsonl or .parquet, or name the format)."),
        };
}

/// <summary>Streams the documents of a local corpus file, in file order. Errors name the file, the line or row group, and the field.</summary>
public static class TextDocuments
{
    public static IEnumerable<string> Read(TextSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!File.Exists(source.Path)) throw new FileNotFoundException($"{source.Path}: corpus file not found.", source.Path);
        return source.ResolvedFormat switch
        {
            TextFormat.Text => ReadLines(source.Path),
            TextFormat.JsonLines => ReadJsonLines(source.Path, source.Field),
            TextFormat.Parquet => ReadParquet(source.Path, source.Field),
            _ => throw new ArgumentOutOfRangeException(nameof(source), source.Format, null),
        };
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        foreach (var line in File.ReadLines(path))
            if (line.Length > 0) yield return line;
    }

    private static IEnumerable<string> ReadJsonLines(string path, string field)
    {
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = Core.StrictJson.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{path}: line {number}: expected a JSON object, found {doc.RootElement.ValueKind}.");
                if (!doc.RootElement.TryGetProperty(field, out var value))
                    throw new InvalidDataException($"{path}: line {number}: field '{field}' is missing (fields: {string.Join(", ", doc.RootElement.EnumerateObject().Select(p => p.Name))}).");
                text = value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.Null => null,
                    _ => throw new InvalidDataException($"{path}: line {number}: field '{field}' is {value.ValueKind}, not a string."),
                };
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: line {number}: not valid JSON ({e.Message}).", e);
            }
            if (!string.IsNullOrEmpty(text)) yield return text;
        }
    }

    private static IEnumerable<string> ReadParquet(string path, string column)
    {
        using var stream = File.OpenRead(path);
        ParquetReader reader;
        try
        {
            reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({e.Message}).", e);
        }
        try
        {
            var field = reader.Schema.DataFields.FirstOrDefault(f => f.Name == column)
                        ?? throw new InvalidDataException($"{path}: column '{column}' not found (columns: {string.Join(", ", reader.Schema.DataFields.Select(f => f.Name))}).");
            // Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory<char>; both read as strings.
            if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>) || field.IsArray)
                throw new InvalidDataException($"{path}: column '{column}' holds {field.ClrType.Name}{(field.IsArray ? "[]" : "")}, not strings.");
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                string?[] values;
                using (var group = reader.OpenRowGroupReader(g))
                {
                    values = new string?[checked((int)group.RowCount)];
                    group.ReadAsync(field, values.AsMemory(), null, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                }
                foreach (var v in values)
                    if (!string.IsNullOrEmpty(v)) yield return v;
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Writes strings as a one-column Parquet file (for tests and small corpora).</summary>
    public static void WriteParquet(string path, string column, IReadOnlyCollection<string> values)
    {
        var field = new DataField<string>(column);
        using var stream = File.Create(path);
        var writer = ParquetWriter.CreateAsync(new ParquetSchema(field), stream).GetAwaiter().GetResult();
        try
        {
            using var group = writer.CreateRowGroup();
            group.WriteAsync(field, values, null).GetAwaiter().GetResult();
        }
        finally
        {
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
