namespace SaeBench.Core.Models;

/// <summary>
/// Labels for the probing, absorption and unlearning evaluators: what the tasks are (<see cref="Tasks"/>) and,
/// per split, which example has which class and concepts (<see cref="Labels"/>).
/// </summary>
public interface ILabelledTasks
{
    TaskCatalog Tasks { get; }

    ExampleLabels Labels(Split split);
}

/// <summary>
/// The tasks a model offers.
/// </summary>
/// <param name="ClassNames">Names of the classes of the single-label classification task; labels index this list.</param>
/// <param name="Hierarchy">Concepts with parent/child links (for absorption). Every class may also be a concept.</param>
/// <param name="ForgetConcept">Id of the concept whose examples form the forget set for unlearning; every other
/// example is in the retain set. Null when the model defines no forget set.</param>
public sealed record TaskCatalog(IReadOnlyList<string> ClassNames, ConceptHierarchy Hierarchy, int? ForgetConcept)
{
    public static TaskCatalog ClassesOnly(IReadOnlyList<string> classNames) => new(classNames, ConceptHierarchy.Empty, null);

    /// <summary>Further named labels every example carries besides its class (e.g. a spurious attribute for SCR, or
    /// gender next to profession), each with its value names; <see cref="ExampleLabels.Attribute"/> gives the values.</summary>
    public IReadOnlyList<ExampleAttribute> Attributes { get; init; } = [];
}

/// <summary>A named per-example label with its possible values (the label indexes <paramref name="Values"/>; −1 = none).</summary>
public sealed record ExampleAttribute(string Name, IReadOnlyList<string> Values);

/// <summary>A named concept. <paramref name="ParentId"/> is null for top-level concepts.</summary>
public sealed record Concept(int Id, string Name, int? ParentId);

/// <summary>Concepts indexed by id (<c>Concepts[i].Id == i</c>), each with an optional parent.</summary>
public sealed class ConceptHierarchy
{
    public static ConceptHierarchy Empty { get; } = new([]);

    public ConceptHierarchy(IReadOnlyList<Concept> concepts)
    {
        for (int i = 0; i < concepts.Count; i++)
        {
            if (concepts[i].Id != i) throw new ArgumentException($"Concept '{concepts[i].Name}' has id {concepts[i].Id} at position {i}.");
            if (concepts[i].ParentId is int p && (p < 0 || p >= concepts.Count || p == i))
                throw new ArgumentException($"Concept '{concepts[i].Name}' has an invalid parent {p}.");
        }
        Concepts = concepts;
    }

    public IReadOnlyList<Concept> Concepts { get; }

    public int Count => Concepts.Count;

    /// <summary>Ids of the concepts whose parent is <paramref name="conceptId"/>.</summary>
    public IReadOnlyList<int> ChildrenOf(int conceptId) =>
        Concepts.Where(c => c.ParentId == conceptId).Select(c => c.Id).ToArray();

    /// <summary>Ids of the concepts that have at least one child.</summary>
    public IReadOnlyList<int> Parents() =>
        Concepts.Where(c => Concepts.Any(d => d.ParentId == c.Id)).Select(c => c.Id).ToArray();

    /// <summary>The id of the concept called <paramref name="name"/> (ordinal, case-insensitive), or null.</summary>
    public int? Find(string name) =>
        Concepts.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))?.Id;
}

/// <summary>
/// Labels of every example in one split: a class (−1 when none) and a set of concepts (a bit matrix
/// examples × concepts). An example that has a child concept always has its parent.
/// </summary>
public sealed class ExampleLabels
{
    private readonly int[] _classes;
    private readonly ulong[] _bits;
    private readonly int _words;

    /// <param name="classes">Class of each example, −1 when none.</param>
    /// <param name="conceptCount">Number of concepts.</param>
    /// <param name="bits">Concept bits, <c>ceil(conceptCount / 64)</c> words per example, bit c of example e at
    /// word <c>e·words + c/64</c>, position <c>c % 64</c>.</param>
    public ExampleLabels(int[] classes, int conceptCount, ulong[] bits, IReadOnlyDictionary<string, int[]>? attributes = null)
    {
        _words = (conceptCount + 63) / 64;
        if (bits.Length != (long)classes.Length * _words)
            throw new ArgumentException($"{bits.Length} concept words for {classes.Length} examples × {_words} words.", nameof(bits));
        _classes = classes;
        _bits = bits;
        ConceptCount = conceptCount;
        _attributes = attributes ?? new Dictionary<string, int[]>();
        foreach (var (name, values) in _attributes)
            if (values.Length != classes.Length)
                throw new ArgumentException($"Attribute '{name}' has {values.Length} values for {classes.Length} examples.", nameof(attributes));
    }

    private readonly IReadOnlyDictionary<string, int[]> _attributes;

    /// <summary>Names of the attributes these labels carry (see <see cref="TaskCatalog.Attributes"/>).</summary>
    public IEnumerable<string> AttributeNames => _attributes.Keys;

    /// <summary>The value of attribute <paramref name="name"/> for each example (−1 = none); throws naming the known ones.</summary>
    public ReadOnlySpan<int> Attribute(string name) =>
        _attributes.TryGetValue(name, out var v) ? v
            : throw new KeyNotFoundException($"No attribute '{name}'; these labels have: {(_attributes.Count == 0 ? "none" : string.Join(", ", _attributes.Keys))}.");

    /// <summary>Labels where each example's concepts are given by a function of its class (e.g. class + its group).</summary>
    public static ExampleLabels FromClasses(int[] classes, int conceptCount, Func<int, IEnumerable<int>> conceptsOfClass,
        IReadOnlyDictionary<string, int[]>? attributes = null)
    {
        int words = (conceptCount + 63) / 64;
        var bits = new ulong[(long)classes.Length * words];
        var cache = new Dictionary<int, int[]>();
        for (int e = 0; e < classes.Length; e++)
        {
            if (classes[e] < 0) continue;
            if (!cache.TryGetValue(classes[e], out var cs)) cache[classes[e]] = cs = conceptsOfClass(classes[e]).ToArray();
            foreach (int c in cs) bits[(long)e * words + c / 64] |= 1UL << (c % 64);
        }
        return new ExampleLabels(classes, conceptCount, bits, attributes);
    }

    public int Count => _classes.Length;

    public int ConceptCount { get; }

    /// <summary>Class of each example, −1 when none.</summary>
    public ReadOnlySpan<int> Classes => _classes;

    public bool Has(int example, int concept)
    {
        if ((uint)concept >= (uint)ConceptCount) throw new ArgumentOutOfRangeException(nameof(concept), $"Concept {concept} of {ConceptCount}.");
        return (_bits[(long)example * _words + concept / 64] & (1UL << (concept % 64))) != 0;
    }

    /// <summary>One bool per example: does it have <paramref name="concept"/>?</summary>
    public bool[] ExamplesWith(int concept)
    {
        var result = new bool[Count];
        for (int e = 0; e < result.Length; e++) result[e] = Has(e, concept);
        return result;
    }
}
