using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.TestKit;

/// <summary>
/// A model under study held in memory, built by <see cref="FakeModelBuilder"/>: activations per split
/// (<c>examples·positions × d</c>, example-major) with validity masks, and — only when configured — labels with
/// concepts and attributes (<see cref="ILabelledTasks"/>), a linear readout as the forward pass from the hook
/// (<see cref="IDownstreamLoss"/>) and token text (<see cref="IExampleText"/>).
/// </summary>
public sealed class FakeModel : IModelUnderStudy
{
    internal readonly Dictionary<Split, SplitData> Splits = [];
    private readonly Labelled? _labelled;
    private readonly Readout? _readout;
    private readonly Text? _text;

    internal FakeModel(ModelInfo info, TaskCatalog? tasks, float[]? readout, int classes, Func<Split, int, IReadOnlyList<string>>? tokens)
    {
        Info = info;
        if (tasks is not null) _labelled = new Labelled(this, tasks);
        if (readout is not null) _readout = new Readout(readout, info.DModel, classes);
        if (tokens is not null) _text = new Text(tokens);
    }

    public ModelInfo Info { get; }

    /// <summary>Batches served so far by every split (to check that a checkpoint is streamed once).</summary>
    public int BatchesServed { get; internal set; }

    /// <summary>Columns of the readout's logits (0 without a forward pass).</summary>
    public int LogitWidth => _readout?.Classes ?? 0;

    public IActivationSource Activations(Split split) =>
        Splits.ContainsKey(split) ? new Source(this, split) : throw new InvalidOperationException($"the fake model has no {split} split");

    public T? Capability<T>() where T : class =>
        _labelled as T ?? _readout as T ?? _text as T;

    /// <summary>The readout's logits of hook values (<c>[rows, d]</c> → <c>[rows, classes]</c>).</summary>
    public void ForwardFromHook(HostMatrix hook, HostMatrix logits) =>
        (_readout ?? throw new InvalidOperationException("the fake model has no readout")).Forward(hook, logits);

    internal sealed record SplitData(float[] X, bool[] Valid, int[] Classes, int[][] Concepts, IReadOnlyDictionary<string, int[]> Attributes);

    private sealed class Labelled(FakeModel model, TaskCatalog tasks) : ILabelledTasks
    {
        public TaskCatalog Tasks { get; } = tasks;

        public ExampleLabels Labels(Split split)
        {
            var s = model.Splits[split];
            int count = Math.Max(Tasks.Hierarchy.Count, 1), words = (count + 63) / 64;
            var bits = new ulong[s.Classes.Length * words];
            for (int e = 0; e < s.Classes.Length; e++)
                foreach (int c in s.Concepts[e])
                    if (c >= 0 && c < Tasks.Hierarchy.Count) bits[e * words + c / 64] |= 1UL << (c % 64);
            return new ExampleLabels((int[])s.Classes.Clone(), count, bits, s.Attributes);
        }
    }

    private sealed class Readout(float[] weights, int d, int classes) : IDownstreamLoss
    {
        public int Classes => classes;

        public void Forward(HostMatrix hook, HostMatrix logits)
        {
            for (int i = 0; i < hook.Rows; i++)
            for (int c = 0; c < classes; c++)
            {
                float s = 0;
                for (int j = 0; j < d; j++) s += hook[i, j] * weights[j * classes + c];
                logits[i, c] = s;
            }
        }

        public DownstreamComparison Compare(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements) =>
            LogitStatistics.ForClassifier(batch, replacements, classes, Forward);
    }

    private sealed class Text(Func<Split, int, IReadOnlyList<string>> tokens) : IExampleText
    {
        public IReadOnlyList<string> Tokens(Split split, int example) => tokens(split, example);
    }

    private sealed class Source(FakeModel model, Split split) : IActivationSource
    {
        public ActivationShape Shape => new(model.Splits[split].Classes.Length, model.Info.Positions, model.Info.DModel);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
        {
            var s = model.Splits[split];
            int p = model.Info.Positions, d = model.Info.DModel;
            var (start, length) = (examples ?? Range.All).GetOffsetAndLength(s.Classes.Length);
            int per = Math.Max(1, maxRows / p);
            for (int first = start; first < start + length; first += per)
            {
                int n = Math.Min(per, start + length - first);
                var x = HostMatrix.FromSpan(s.X.AsSpan(first * p * d, n * p * d), n * p, d);
                model.BatchesServed++;
                yield return ActivationBatch.ForExamples(split, x, first, p, s.Classes.AsSpan(first, n), s.Valid.AsSpan(first * p, n * p).ToArray());
            }
        }
    }
}

/// <summary>
/// Builds a <see cref="FakeModel"/>: the one model fake of the test suites.
/// <code>
/// var model = FakeModelBuilder.Create(dModel: 2)
///     .WithClasses("left", "right")
///     .WithSplit(Split.Test, [1f, 2f, 3f, 4f], classes: [0, 1])
///     .Build();
/// </code>
/// </summary>
public sealed class FakeModelBuilder
{
    private readonly int _d, _positions;
    private readonly Dictionary<Split, FakeModel.SplitData> _splits = [];
    private string _id = "fake", _hash = "fake-hash";
    private IReadOnlyList<string>? _classes;
    private ConceptHierarchy _hierarchy = ConceptHierarchy.Empty;
    private int? _forget;
    private readonly List<ExampleAttribute> _attributes = [];
    private float[]? _readout;
    private int _readoutClasses;
    private Func<Split, int, IReadOnlyList<string>>? _tokens;

    private FakeModelBuilder(int d, int positions)
    {
        _d = d;
        _positions = positions;
    }

    public static FakeModelBuilder Create(int dModel, int positions = 1) => new(dModel, positions);

    /// <summary>
    /// Random activations in [−1, 1) for both splits (<paramref name="examples"/> each), labels <c>i % classes</c>, and a
    /// random linear readout (classes outputs) as the forward pass; with <paramref name="centred"/> each split's columns
    /// have mean 0.
    /// </summary>
    public static FakeModelBuilder Random(int dModel, int examples, int seed, int classes = 3, bool centred = false)
    {
        var rng = new System.Random(seed);
        var train = Enumerable.Range(0, examples * dModel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var test = Enumerable.Range(0, examples * dModel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        if (centred)
            foreach (var data in new[] { train, test })
                for (int j = 0; j < dModel; j++)
                {
                    double mean = 0;
                    for (int e = 0; e < examples; e++) mean += data[e * dModel + j];
                    mean /= examples;
                    for (int e = 0; e < examples; e++) data[e * dModel + j] -= (float)mean;
                }
        var labels = Enumerable.Range(0, examples).Select(i => i % classes).ToArray();
        var readout = Enumerable.Range(0, dModel * classes).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return Create(dModel).WithId("fake", "fakehash" + seed).WithSplit(Split.Train, train, labels).WithSplit(Split.Test, test, labels)
            .WithReadout(readout, classes);
    }

    public FakeModelBuilder WithId(string id, string contentHash)
    {
        _id = id;
        _hash = contentHash;
        return this;
    }

    /// <summary>Sets a split: <paramref name="x"/> is examples·positions rows of d values; <paramref name="classes"/> one per
    /// example (default −1, unlabelled); concepts per example (default: its class).</summary>
    public FakeModelBuilder WithSplit(Split split, float[] x, int[]? classes = null, bool[]? valid = null, int[][]? concepts = null,
        IReadOnlyDictionary<string, int[]>? attributes = null)
    {
        int examples = classes?.Length ?? x.Length / (_d * _positions);
        classes ??= Enumerable.Repeat(-1, examples).ToArray();
        if (x.Length != examples * _positions * _d)
            throw new ArgumentException($"x has {x.Length} values; {examples} examples × {_positions} positions × {_d} need {examples * _positions * _d}");
        _splits[split] = new FakeModel.SplitData(x, valid ?? Enumerable.Repeat(true, examples * _positions).ToArray(), classes,
            concepts ?? classes.Select(c => new[] { c }).ToArray(), attributes ?? new Dictionary<string, int[]>());
        return this;
    }

    /// <summary>Sets a split of single-position examples from a <c>[examples, d]</c> array.</summary>
    public FakeModelBuilder WithSplit(Split split, float[,] x, int[] classes)
    {
        var flat = new float[x.Length];
        Buffer.BlockCopy(x, 0, flat, 0, x.Length * sizeof(float));
        return WithSplit(split, flat, classes);
    }

    /// <summary>Makes the model labelled (<see cref="ILabelledTasks"/>) with these class names.</summary>
    public FakeModelBuilder WithClasses(params string[] names)
    {
        _classes = names;
        return this;
    }

    public FakeModelBuilder WithHierarchy(ConceptHierarchy hierarchy, int? forgetConcept = null)
    {
        _hierarchy = hierarchy;
        _forget = forgetConcept;
        return this;
    }

    /// <summary>Declares a per-example attribute (values per split go in <see cref="WithSplit"/>'s attributes).</summary>
    public FakeModelBuilder WithAttribute(string name, params string[] values)
    {
        _attributes.Add(new ExampleAttribute(name, values));
        return this;
    }

    /// <summary>A linear readout <c>[d, classes]</c> (row-major) as the forward pass from the hook; targets are the classes.</summary>
    public FakeModelBuilder WithReadout(float[] readout, int classes)
    {
        if (readout.Length != _d * classes) throw new ArgumentException($"readout has {readout.Length} values for {_d}×{classes}");
        _readout = readout;
        _readoutClasses = classes;
        return this;
    }

    /// <summary>Token text per (split, example) (<see cref="IExampleText"/>).</summary>
    public FakeModelBuilder WithTokens(Func<Split, int, IReadOnlyList<string>> tokens)
    {
        _tokens = tokens;
        return this;
    }

    public FakeModel Build()
    {
        var tasks = _classes is null ? null : new TaskCatalog(_classes, _hierarchy, _forget) { Attributes = _attributes.ToList() };
        var model = new FakeModel(new ModelInfo(_id, _id + ".hook", _d, _positions, _hash, "in-memory test model"), tasks, _readout, _readoutClasses, _tokens);
        foreach (var (split, data) in _splits) model.Splits[split] = data;
        return model;
    }
}
