using System.Text.Json.Nodes;

namespace SaeBench.Core.Models;

/// <summary>
/// Reading labelled text datasets from local files (<c>.jsonl</c>, <c>.csv</c>, <c>.parquet</c>) for evaluators that
/// probe a language model on text (sparse probing, SCR/TPP): the model under study reads them, so evaluators do no
/// file I/O of their own. Paths are relative to the run configuration's folder.
/// </summary>
public interface ILabelledTextSource
{
    /// <summary>Every row's text and label (as text: numbers in invariant form), and its split when the file has a split
    /// column (<c>train</c>/<c>test</c>; null otherwise). Bad files and missing fields are <see cref="BadInputException"/>s
    /// naming the file and the field.</summary>
    LabelledTexts Read(LabelledTextRequest request);

    /// <summary>Every row of a data file as a JSON object (<c>.jsonl</c>, a <c>.json</c> array, <c>.csv</c> with a header,
    /// or <c>.parquet</c>): for files whose rows are more than a text and a label (multiple-choice questions, corpora).</summary>
    IReadOnlyList<JsonObject> Records(string path);

    /// <summary>A whole JSON file (objects keyed by name, as RAVEL's files are), parsed strictly, or null when the file does
    /// not exist; invalid JSON is a <see cref="BadInputException"/> naming the file.</summary>
    JsonNode? JsonFile(string path);
}

/// <param name="Path">The file.</param>
/// <param name="TextField">Column or JSON field holding the text.</param>
/// <param name="LabelField">Column or JSON field holding the label.</param>
/// <param name="SplitField">Column or JSON field holding <c>train</c>/<c>test</c>, when the file has one.</param>
public sealed record LabelledTextRequest(string Path, string TextField = "text", string LabelField = "label", string? SplitField = null);

/// <summary>Rows of a labelled text file: text, label, split (null when the file does not say).</summary>
public sealed record LabelledTexts(IReadOnlyList<string> Texts, IReadOnlyList<string> Labels, IReadOnlyList<string?> Splits);
