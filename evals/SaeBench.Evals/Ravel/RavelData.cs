using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core;
using SaeBench.Core.Models;

namespace SaeBench.Evals.Ravel;

/// <summary>One entity type's RAVEL data: templates per selected attribute and each entity's attribute values.</summary>
/// <param name="EntityType">E.g. <c>city</c>.</param>
/// <param name="Templates">Attribute → templates with one <c>%s</c> (only the selected attributes, in selection order).</param>
/// <param name="Entities">Entity → attribute → value, in file order (values of unselected attributes are dropped).</param>
public sealed record RavelEntityData(
    string EntityType,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Templates,
    IReadOnlyList<(string Entity, IReadOnlyDictionary<string, string> Values)> Entities);

/// <summary>
/// RAVEL's files as SAEBench downloads them from <c>adamkarvonen/ravel_prompts</c>, read from a local folder through the
/// model's file reader (strict JSON): <c>ravel_{entity}_attribute_to_prompts.json</c> (attribute → templates) and
/// <c>ravel_{entity}_entity_attributes.json</c> (entity → attribute → value). The two split files
/// (<c>ravel_{entity}_prompt_to_split.json</c>, <c>ravel_{entity}_entity_to_split.json</c>) may be there and are not read:
/// SAEBench carries them but splits its pairs 70/30 itself. Every problem names the file and the field.
/// </summary>
public static class RavelData
{
    public static string PromptsFile(string entityType) => $"ravel_{entityType}_attribute_to_prompts.json";

    public static string AttributesFile(string entityType) => $"ravel_{entityType}_entity_attributes.json";

    /// <summary>The entity type's data, or null with the reason when its files are absent.</summary>
    public static RavelEntityData? Load(ILabelledTextSource files, string directory, string entityType, IReadOnlyList<string> attributes, out string? skipped)
    {
        string promptsPath = Path.Combine(directory, PromptsFile(entityType));
        string attributesPath = Path.Combine(directory, AttributesFile(entityType));
        var prompts = files.JsonFile(promptsPath);
        var values = files.JsonFile(attributesPath);
        if (prompts is null || values is null)
        {
            skipped = $"{entityType}: {string.Join(" and ", new[] { (prompts, promptsPath), (values, attributesPath) }.Where(t => t.Item1 is null).Select(t => t.Item2))} not found";
            return null;
        }
        skipped = null;
        return Parse(entityType, attributes, promptsPath, prompts, attributesPath, values);
    }

    /// <summary>Checks and reads the two parsed files (<paramref name="promptsPath"/> and <paramref name="attributesPath"/> name them in errors).</summary>
    public static RavelEntityData Parse(string entityType, IReadOnlyList<string> attributes, string promptsPath, JsonNode prompts, string attributesPath, JsonNode values)
    {
        if (prompts is not JsonObject promptObject)
            throw new BadInputException($"{promptsPath}: expected a JSON object of attribute → list of templates, found {Kind(prompts)}.");
        var templates = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            if (!promptObject.TryGetPropertyValue(attribute, out var list))
                throw new BadInputException($"{promptsPath}: attribute '{attribute}' (from entity_attribute_selection) is missing (attributes: {string.Join(", ", promptObject.Select(p => p.Key))}).");
            if (list is not JsonArray array)
                throw new BadInputException($"{promptsPath}: field '{attribute}' is {Kind(list)}, not a list of templates.");
            var read = new List<string>();
            for (int i = 0; i < array.Count; i++)
            {
                string where = $"{promptsPath}: field '{attribute}', template {i}";
                if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
                    throw new BadInputException($"{where} is {Kind(array[i])}, not a string.");
                string template = v.GetValue<string>();
                int count = CountPlaceholders(template);
                if (count != 1) throw new BadInputException($"{where}: '{template}' has {count} '%s' placeholders; a template has exactly one.");
                read.Add(template);
            }
            templates[attribute] = read;
        }

        if (values is not JsonObject valueObject)
            throw new BadInputException($"{attributesPath}: expected a JSON object of entity → {{attribute: value}}, found {Kind(values)}.");
        var entities = new List<(string, IReadOnlyDictionary<string, string>)>();
        foreach (var (entity, node) in valueObject)
        {
            if (node is not JsonObject entityValues)
                throw new BadInputException($"{attributesPath}: field '{entity}' is {Kind(node)}, not an object of attribute → value.");
            var selected = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var attribute in attributes)
            {
                if (!entityValues.TryGetPropertyValue(attribute, out var value) || value is null) continue; // no value: no prompt
                if (value is not JsonValue scalar || scalar.GetValueKind() != JsonValueKind.String)
                    throw new BadInputException($"{attributesPath}: field '{entity}'.'{attribute}' is {Kind(value)}, not a string.");
                selected[attribute] = scalar.GetValue<string>();
            }
            entities.Add((entity, selected));
        }
        return new RavelEntityData(entityType, templates, entities);
    }

    /// <summary>Python's <c>template % entity</c> for a template with one <c>%s</c>: the text before and after it
    /// (<c>%%</c> read as <c>%</c>).</summary>
    public static (string Prefix, string Remainder) Split(string template)
    {
        int at = PlaceholderIndex(template);
        return (template[..at].Replace("%%", "%", StringComparison.Ordinal), template[(at + 2)..].Replace("%%", "%", StringComparison.Ordinal));
    }

    private static int PlaceholderIndex(string template)
    {
        for (int i = 0; i + 1 < template.Length; i++)
        {
            if (template[i] != '%') continue;
            if (template[i + 1] == 's') return i;
            i++; // skip "%%" and any other format code
        }
        return -1;
    }

    private static int CountPlaceholders(string template)
    {
        int count = 0;
        for (int i = 0; i + 1 < template.Length; i++)
        {
            if (template[i] != '%') continue;
            if (template[i + 1] == 's') count++;
            i++;
        }
        return count;
    }

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "a list",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => v.GetValueKind().ToString(),
        },
        _ => "unknown",
    };
}
