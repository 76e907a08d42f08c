using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Models;

/// <summary>
/// The activations of one split, read in batches of whole examples. Nothing is held in memory beyond the
/// batch being read; a source can be enumerated any number of times and gives the same bytes each time.
/// </summary>
public interface IActivationSource
{
    ActivationShape Shape { get; }

    /// <summary>
    /// Batches of at most <paramref name="maxRows"/> rows (at least one whole example each), in example order,
    /// covering the examples in <paramref name="examples"/> (all of them when null).
    /// </summary>
    IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null);
}

/// <summary>
/// One batch: <c>ExampleCount × Positions</c> rows of activations (example-major: row = example·Positions + position),
/// and per row the example index, its class label (−1 when unlabelled) and whether the position is valid
/// (false = padding, to be ignored by metrics). <see cref="Split"/> and <see cref="ExampleIndex"/> identify the batch's
/// inputs, so a model can run its forward pass for them again (e.g. to splice at a hook that is not the residual
/// stream). Dispose it to give the buffer back to the pool.
/// </summary>
public sealed class ActivationBatch : IDisposable
{
    private readonly int[] _exampleIndex;
    private readonly int[] _label;
    private readonly bool[] _valid;

    public ActivationBatch(Split split, HostMatrix activations, int firstExample, int positions, int[] exampleIndex, int[] label, bool[] valid)
    {
        ArgumentNullException.ThrowIfNull(activations);
        if (positions < 1 || activations.Rows % positions != 0)
            throw new ArgumentException($"{activations.Rows} rows are not whole examples of {positions} positions.", nameof(positions));
        if (exampleIndex.Length != activations.Rows || label.Length != activations.Rows || valid.Length != activations.Rows)
            throw new ArgumentException("Per-row arrays must have one entry per activation row.");
        Split = split;
        Activations = activations;
        FirstExample = firstExample;
        Positions = positions;
        _exampleIndex = exampleIndex;
        _label = label;
        _valid = valid;
    }

    /// <summary>A batch of whole examples with labels per example; every row valid unless <paramref name="validPerRow"/> says otherwise.</summary>
    public static ActivationBatch ForExamples(Split split, HostMatrix activations, int firstExample, int positions, ReadOnlySpan<int> labelPerExample,
        bool[]? validPerRow = null)
    {
        int rows = activations.Rows;
        int count = rows / Math.Max(positions, 1);
        if (labelPerExample.Length != count)
            throw new ArgumentException($"{labelPerExample.Length} labels for {count} examples.", nameof(labelPerExample));
        var index = new int[rows];
        var label = new int[rows];
        for (int e = 0; e < count; e++)
        for (int p = 0; p < positions; p++)
        {
            index[e * positions + p] = firstExample + e;
            label[e * positions + p] = labelPerExample[e];
        }
        var valid = validPerRow ?? Enumerable.Repeat(true, rows).ToArray();
        return new ActivationBatch(split, activations, firstExample, positions, index, label, valid);
    }

    /// <summary>A batch of single-position examples given by index (e.g. a sample), each row its own example.</summary>
    public static ActivationBatch ForRows(Split split, HostMatrix activations, int[] exampleIndex, int[] labels)
    {
        if (exampleIndex.Length != activations.Rows || labels.Length != activations.Rows)
            throw new ArgumentException($"{exampleIndex.Length} example indices and {labels.Length} labels for {activations.Rows} rows.");
        return new ActivationBatch(split, activations, exampleIndex.Length > 0 ? exampleIndex[0] : 0, 1, exampleIndex, labels,
            Enumerable.Repeat(true, activations.Rows).ToArray());
    }

    /// <summary>The split the examples come from.</summary>
    public Split Split { get; }

    /// <summary><c>[ExampleCount·Positions, DModel]</c>, example-major.</summary>
    public HostMatrix Activations { get; }

    public int FirstExample { get; }
    public int Positions { get; }
    public int ExampleCount => Activations.Rows / Positions;
    public int Rows => Activations.Rows;

    /// <summary>Example index of each row.</summary>
    public ReadOnlySpan<int> ExampleIndex => _exampleIndex;

    /// <summary>Class label of each row's example (see <see cref="ILabelledTasks"/>), −1 when unlabelled.</summary>
    public ReadOnlySpan<int> Label => _label;

    /// <summary>Validity mask: false for padding positions.</summary>
    public ReadOnlySpan<bool> Valid => _valid;

    public void Dispose() => Activations.Dispose();
}
