using SaeBench.Compute.Tensors;

namespace SaeBench.Training.Optimization;

/// <summary>
/// Named trainable tensors in the layout of <c>SaeParameters</c> (SAELens spelling): <c>W_enc [d_in, F]</c>,
/// <c>b_enc [1, F]</c>, <c>W_dec [F, d_in]</c>, <c>b_dec [1, d_in]</c>, and per architecture <c>log_threshold</c>,
/// <c>b_gate</c>, <c>r_mag</c>, <c>b_mag</c> (each <c>[1, F]</c>). Vectors are 1-row matrices so one code path
/// (Adam, checkpoints, finite differences) handles every tensor.
/// </summary>
public sealed class ParameterSet
{
    public const string WEnc = "W_enc";
    public const string BEnc = "b_enc";
    public const string WDec = "W_dec";
    public const string BDec = "b_dec";
    public const string LogThreshold = "log_threshold";
    public const string BGate = "b_gate";
    public const string RMag = "r_mag";
    public const string BMag = "b_mag";

    private readonly List<(string Name, HostMatrix Value)> _tensors = [];

    public ParameterSet(int dIn, int dSae)
    {
        DIn = dIn;
        DSae = dSae;
    }

    public int DIn { get; }
    public int DSae { get; }

    public IReadOnlyList<(string Name, HostMatrix Value)> Tensors => _tensors;

    public IEnumerable<string> Names => _tensors.Select(t => t.Name);

    /// <summary>Adds a zero tensor; its shape follows from the name.</summary>
    public HostMatrix Add(string name)
    {
        if (Has(name)) throw new InvalidOperationException($"Parameter '{name}' already exists.");
        var (rows, cols) = ShapeOf(name, DIn, DSae);
        var m = new HostMatrix(rows, cols);
        _tensors.Add((name, m));
        return m;
    }

    public bool Has(string name) => _tensors.Exists(t => t.Name == name);

    public HostMatrix this[string name] =>
        _tensors.Find(t => t.Name == name).Value ?? throw new KeyNotFoundException($"No parameter '{name}' (have {string.Join(", ", Names)}).");

    /// <summary>The tensor as a flat span (for vectors).</summary>
    public Span<float> Vector(string name) => this[name].Span;

    /// <summary>A deep copy.</summary>
    public ParameterSet Clone()
    {
        var c = new ParameterSet(DIn, DSae);
        foreach (var (name, value) in _tensors) c._tensors.Add((name, value.Clone()));
        return c;
    }

    /// <summary>A set with the same names and shapes, all zeros.</summary>
    public ParameterSet ZerosLike()
    {
        var c = new ParameterSet(DIn, DSae);
        foreach (var (name, _) in _tensors) c.Add(name);
        return c;
    }

    public void Clear()
    {
        foreach (var (_, value) in _tensors) value.Span.Clear();
    }

    public long Count => _tensors.Sum(t => t.Value.Length);

    public static (int Rows, int Cols) ShapeOf(string name, int dIn, int dSae) => name switch
    {
        WEnc => (dIn, dSae),
        WDec => (dSae, dIn),
        BDec => (1, dIn),
        BEnc or LogThreshold or BGate or RMag or BMag => (1, dSae),
        _ => throw new ArgumentException($"Unknown parameter '{name}'."),
    };
}
