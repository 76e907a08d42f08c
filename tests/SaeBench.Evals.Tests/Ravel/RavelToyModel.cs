using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Language.Data;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>
/// A language model whose answer is known, for RAVEL. Tokens are whitespace-separated words (" word"; id 0 BOS, 1 unknown,
/// 2 "."). The hook row of an entity token holds one one-hot block per attribute (the entity's value of it); every other
/// token's row is zero. After a prompt, the model reads the question's attribute from its query word and answers from the
/// hook row at the last entity token: the logit of each value token of that attribute is <see cref="Gain"/> × the row's
/// entry for that value, every other token −20; after a value token (or ".") it says ".". So the clean model answers
/// every prompt correctly, and an edit of the entity row changes the answer exactly as the row says.
/// <see cref="IHookGradient"/> is the analytic gradient of that cross-entropy with respect to the entity row.
/// </summary>
public sealed class RavelToyModel : IModelUnderStudy, ITextModel, ITextTokenizer, ITextInterventions, IHookGradient, ILabelledTextSource
{
    public const double Gain = 4;
    private readonly List<string> _vocabulary = ["<bos>", "<unk>", "."];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<int, float[]> _entityRows = [];
    private readonly Dictionary<string, (string Attribute, int[] Values)> _queries = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _valueDimension = [];
    private readonly string _root;

    /// <param name="attributes">Attribute → (query word, its values); the values' one-hot blocks are laid out in this order.</param>
    /// <param name="entities">Entity word → attribute → value.</param>
    /// <param name="root">Where <see cref="JsonFile"/> reads from.</param>
    public RavelToyModel(IReadOnlyList<(string Attribute, string Query, string[] Values)> attributes,
        IReadOnlyDictionary<string, Dictionary<string, string>> entities, string root)
    {
        _root = root;
        for (int i = 0; i < _vocabulary.Count; i++) _ids[_vocabulary[i]] = i;
        int dimension = 0;
        var offsets = new Dictionary<string, Dictionary<string, int>>();
        foreach (var (attribute, query, values) in attributes)
        {
            offsets[attribute] = [];
            var ids = new List<int>();
            foreach (var v in values)
            {
                int id = Add(v);
                ids.Add(id);
                _valueDimension[id] = dimension;
                offsets[attribute][v] = dimension++;
            }
            _queries[query] = (attribute, ids.ToArray());
            Add(query);
        }
        DModel = dimension;
        foreach (var (entity, values) in entities)
        {
            var row = new float[DModel];
            foreach (var (attribute, value) in values) row[offsets[attribute][value]] = 1;
            _entityRows[Add(entity)] = row;
        }
        Info = new ModelInfo("ravel-toy", "toy.hook", DModel, 32, "ravel-toy-hash", "RAVEL toy model");
    }

    public int DModel { get; }

    public ModelInfo Info { get; }

    /// <summary>Adds words the templates use (unknown words are fine too: they embed as zero).</summary>
    public int Add(string word)
    {
        if (_ids.TryGetValue(" " + word, out int id)) return id;
        _vocabulary.Add(" " + word);
        return _ids[" " + word] = _vocabulary.Count - 1;
    }

    public ITextTokenizer Tokenizer => this;

    public int MaxSequenceLength => 64;

    public int VocabularySize => _vocabulary.Count;

    public IActivationSource Activations(Split split) => new Empty(DModel);

    /// <summary>Hide the gradient (a language model before it has one).</summary>
    public bool WithoutGradient { get; init; }

    public T? Capability<T>() where T : class => WithoutGradient && typeof(T) == typeof(IHookGradient) ? null : this as T;

    public int[] Encode(string text, bool? prependBos = null)
    {
        var ids = new List<int>();
        if (prependBos ?? true) ids.Add(0);
        foreach (var piece in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            ids.Add(_ids.TryGetValue(" " + piece, out var id) ? id : 1);
        return ids.ToArray();
    }

    public string? TokenText(int id) => id <= 1 || id >= _vocabulary.Count ? null : _vocabulary[id];

    public bool IsSpecial(int id) => id == 0;

    public HostMatrix HookActivations(IReadOnlyList<int[]> sequences)
    {
        var result = new HostMatrix(sequences.Sum(s => s.Length), DModel);
        int row = 0;
        foreach (var s in sequences)
            foreach (int id in s)
            {
                if (_entityRows.TryGetValue(id, out var e)) e.CopyTo(result.Row(row));
                row++;
            }
        return result;
    }

    public double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null) =>
        throw new NotSupportedException("RAVEL does not score candidates");

    public HostMatrix HookRowsAt(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions)
    {
        var result = new HostMatrix(sequences.Count, DModel);
        for (int i = 0; i < sequences.Count; i++)
            if (_entityRows.TryGetValue(sequences[i][positions[i]], out var e)) e.CopyTo(result.Row(i));
        return result;
    }

    /// <summary>Counts the calls that generate (to check that nothing else is read).</summary>
    public int GenerateCalls { get; private set; }

    public int[][] Generate(IReadOnlyList<int[]> sequences, int count, IReadOnlyList<int>? positions = null, HostMatrix? rows = null)
    {
        GenerateCalls++;
        var result = new int[sequences.Count][];
        for (int i = 0; i < sequences.Count; i++)
        {
            var current = sequences[i].ToList();
            result[i] = new int[count];
            for (int step = 0; step < count; step++)
            {
                var logits = Logits(current, positions?[i], rows is null ? null : rows.Row(i).ToArray());
                int best = 0;
                for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
                result[i][step] = best;
                current.Add(best);
            }
        }
        return result;
    }

    public HookRowGradient LossGradient(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions, HostMatrix rows, IReadOnlyList<int> targets)
    {
        var losses = new double[sequences.Count];
        var gradient = new HostMatrix(sequences.Count, DModel);
        for (int i = 0; i < sequences.Count; i++)
        {
            var row = rows.Row(i).ToArray();
            var logits = Logits(sequences[i].ToList(), positions[i], row);
            double max = logits.Max();
            double z = logits.Sum(l => Math.Exp(l - max));
            losses[i] = -(logits[targets[i]] - max - Math.Log(z));
            // Only the logits of the asked attribute's values depend on the row: ∂loss/∂row[dim(v)] = Gain·(p_v − [v = target]).
            var (_, values) = Query(sequences[i]);
            foreach (int v in values)
                gradient[i, _valueDimension[v]] = (float)(Gain * (Math.Exp(logits[v] - max) / z - (v == targets[i] ? 1 : 0)));
        }
        return new HookRowGradient(losses, gradient);
    }

    private (string Attribute, int[] Values) Query(IReadOnlyList<int> ids)
    {
        foreach (int id in ids)
            if (TokenText(id) is { } word && _queries.TryGetValue(word.Trim(), out var q)) return q;
        throw new InvalidOperationException("the prompt asks no known attribute");
    }

    private double[] Logits(List<int> ids, int? editPosition, float[]? editRow)
    {
        var logits = Enumerable.Repeat(-20.0, VocabularySize).ToArray();
        int last = ids[^1];
        if (last == 2 || _valueDimension.ContainsKey(last))
        {
            logits[2] = 0;
            return logits;
        }
        int entity = ids.FindLastIndex(_entityRows.ContainsKey);
        var row = editPosition == entity && editRow is not null ? editRow : entity >= 0 ? _entityRows[ids[entity]] : new float[DModel];
        foreach (int v in Query(ids).Values) logits[v] = Gain * row[_valueDimension[v]];
        return logits;
    }

    public LabelledTexts Read(LabelledTextRequest request) => throw new NotSupportedException();

    public IReadOnlyList<JsonObject> Records(string path) => throw new NotSupportedException();

    public JsonNode? JsonFile(string path) => LabelledTextFiles.JsonFile(Path.Combine(_root, path));

    private sealed class Empty(int d) : IActivationSource
    {
        public ActivationShape Shape => new(0, 8, d);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
    }
}
