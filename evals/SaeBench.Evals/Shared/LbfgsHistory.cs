namespace SaeBench.Evals.Shared;

/// <summary>
/// The last m correction pairs (s = x_new − x, y = g_new − g) of a limited-memory BFGS method, and the two-loop
/// recursion that turns a gradient into the quasi-Newton direction −H·g (Nocedal &amp; Wright, Algorithm 7.4, with
/// the initial scaling γ = sᵀy / yᵀy of the newest pair). Shared by <see cref="Lbfgs"/> and <see cref="OwlQn"/>.
/// </summary>
internal sealed class LbfgsHistory
{
    private readonly double[][] _s;
    private readonly double[][] _y;
    private readonly double[] _rho;
    private readonly double[] _alpha;
    private int _head;

    public LbfgsHistory(int pairs, int dimension)
    {
        _s = new double[pairs][];
        _y = new double[pairs][];
        for (int i = 0; i < pairs; i++) { _s[i] = new double[dimension]; _y[i] = new double[dimension]; }
        _rho = new double[pairs];
        _alpha = new double[pairs];
    }

    /// <summary>How many pairs are held (0 after <see cref="Clear"/>: the direction is then steepest descent).</summary>
    public int Stored { get; private set; }

    /// <summary>Forgets every pair (a restart from steepest descent).</summary>
    public void Clear() => Stored = 0;

    /// <summary>direction = −H·gradient.</summary>
    public void Direction(ReadOnlySpan<double> gradient, Span<double> direction)
    {
        int m = _rho.Length, n = direction.Length;
        for (int i = 0; i < n; i++) direction[i] = -gradient[i];
        for (int k = 0; k < Stored; k++)
        {
            int idx = (_head - 1 - k + m) % m;
            double a = _rho[idx] * Lbfgs.Dot(_s[idx], direction);
            _alpha[idx] = a;
            Lbfgs.Axpy(-a, _y[idx], direction);
        }
        if (Stored > 0)
        {
            int last = (_head - 1 + m) % m;
            double gamma = Lbfgs.Dot(_s[last], _y[last]) / Lbfgs.Dot(_y[last], _y[last]);
            for (int i = 0; i < n; i++) direction[i] *= gamma;
        }
        for (int k = Stored - 1; k >= 0; k--)
        {
            int idx = (_head - 1 - k + m) % m;
            double b = _rho[idx] * Lbfgs.Dot(_y[idx], direction);
            Lbfgs.Axpy(_alpha[idx] - b, _s[idx], direction);
        }
    }

    /// <summary>Adds the pair for a step x → xNew with gradients g → gNew, unless its curvature sᵀy is not positive enough.</summary>
    public void Add(ReadOnlySpan<double> x, ReadOnlySpan<double> xNew, ReadOnlySpan<double> g, ReadOnlySpan<double> gNew)
    {
        int m = _rho.Length;
        var sk = _s[_head];
        var yk = _y[_head];
        for (int i = 0; i < sk.Length; i++) { sk[i] = xNew[i] - x[i]; yk[i] = gNew[i] - g[i]; }
        double sy = Lbfgs.Dot(sk, yk);
        if (!(sy > 2.220446049250313e-16 * Lbfgs.Dot(yk, yk))) return;
        _rho[_head] = 1.0 / sy;
        _head = (_head + 1) % m;
        Stored = Math.Min(Stored + 1, m);
    }
}
