using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Shared;

/// <summary>
/// Settings of the L2 logistic regression. Defaults are sklearn's <c>LogisticRegression()</c>:
/// C = 1, intercept fitted and unpenalised, L-BFGS, tol = 1e-4, max_iter = 1000, no class weights.
/// </summary>
public sealed record LogisticOptions
{
    /// <summary>Inverse regularisation strength C (sklearn's C).</summary>
    public double C { get; init; } = 1.0;
    /// <summary>sklearn's <c>class_weight='balanced'</c>: s_i = n / (2 · count(class of i)).</summary>
    public bool ClassBalanced { get; init; }
    public bool FitIntercept { get; init; } = true;
    /// <summary>Gradient tolerance on sklearn's normalised objective (see <see cref="LogisticRegression"/>).</summary>
    public double Tolerance { get; init; } = 1e-4;
    /// <summary>Stop when the relative decrease of the objective falls to this (sklearn's ftol, 64·machine epsilon).</summary>
    public double RelativeDecreaseTolerance { get; init; } = 64 * 2.220446049250313e-16;
    public int MaxIterations { get; init; } = 1000;
    public int History { get; init; } = 10;

    public static LogisticOptions Default { get; } = new();

    /// <summary>
    /// Solved to convergence rather than to sklearn's stopping rule: gradient max-norm 1e-10 on the normalised objective,
    /// no relative-decrease stop, up to 100,000 iterations. sklearn's tol = 1e-4 can stop far from the optimum on
    /// ill-conditioned problems (an intercept at 0.15 where the optimum is 1.07 on the MLP's footwear concept).
    /// </summary>
    public static LogisticOptions Converged { get; } = new() { Tolerance = 1e-10, RelativeDecreaseTolerance = 0, MaxIterations = 100_000 };

    public void Validate()
    {
        if (!(C > 0) || !double.IsFinite(C)) throw new ArgumentOutOfRangeException(nameof(C), C, "C must be a positive finite number.");
        if (!(Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "Must be ≥ 0.");
        if (!(RelativeDecreaseTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(RelativeDecreaseTolerance), RelativeDecreaseTolerance, "Must be ≥ 0.");
        if (MaxIterations < 0) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "Must be ≥ 0.");
        if (History < 1) throw new ArgumentOutOfRangeException(nameof(History), History, "Must be ≥ 1.");
    }
}

/// <summary>
/// Settings of the L1-regularised logistic regression used to rank latents:
/// minimise (1/S) Σ_i s_i·ℓ_i + λ‖w‖₁ (mean log-loss + λ‖w‖₁; intercept unpenalised).
/// In sklearn's terms (‖w‖₁ + C Σ ℓ_i) this is C = 1 / (λ·n).
/// </summary>
public sealed record L1LogisticOptions
{
    /// <summary>λ, the L1 coefficient (SAEBench's absorption probe uses 0.01).</summary>
    public double Lambda { get; init; } = 0.01;
    public bool ClassBalanced { get; init; }
    public bool FitIntercept { get; init; } = true;
    /// <summary>Stop when the pseudo-gradient's max-norm falls to this.</summary>
    public double Tolerance { get; init; } = 1e-4;
    public int MaxIterations { get; init; } = 1000;
    public int History { get; init; } = 10;

    public void Validate()
    {
        if (!(Lambda >= 0) || !double.IsFinite(Lambda)) throw new ArgumentOutOfRangeException(nameof(Lambda), Lambda, "λ must be a finite number ≥ 0.");
        if (!(Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "Must be ≥ 0.");
        if (MaxIterations < 0) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "Must be ≥ 0.");
        if (History < 1) throw new ArgumentOutOfRangeException(nameof(History), History, "Must be ≥ 1.");
    }
}

/// <summary>A fitted binary linear classifier: decision z = w·x + b, predicts true when z &gt; 0.</summary>
public sealed class LogisticModel
{
    private readonly double[] _weights;

    public LogisticModel(double[] weights, double intercept, MinimizationResult fit)
    {
        _weights = weights ?? throw new ArgumentNullException(nameof(weights));
        Intercept = intercept;
        Fit = fit ?? throw new ArgumentNullException(nameof(fit));
    }

    public ReadOnlySpan<double> Weights => _weights;
    public double Intercept { get; }
    public int Features => _weights.Length;
    /// <summary>How the optimiser ended (iterations, final gradient max-norm, reason).</summary>
    public MinimizationResult Fit { get; }

    public double DecisionFunction(ReadOnlySpan<float> row)
    {
        if (row.Length != _weights.Length) throw new ArgumentException($"Row has {row.Length} features; the model has {_weights.Length}.", nameof(row));
        return MixedPrecision.Dot(row, _weights) + Intercept;
    }

    /// <summary>Decision values of every row of a rows×Features row-major matrix.</summary>
    public void DecisionFunction(ReadOnlySpan<float> x, int rows, Span<double> destination)
    {
        LogisticRegression.CheckShape(x.Length, rows, _weights.Length);
        if (destination.Length < rows) throw new ArgumentException($"Destination holds {destination.Length} values; need {rows}.", nameof(destination));
        for (int r = 0; r < rows; r++) destination[r] = DecisionFunction(x.Slice(r * _weights.Length, _weights.Length));
    }

    public bool Predict(ReadOnlySpan<float> row) => DecisionFunction(row) > 0;

    public bool[] Predict(ReadOnlySpan<float> x, int rows)
    {
        var z = new double[rows];
        DecisionFunction(x, rows, z);
        var p = new bool[rows];
        for (int r = 0; r < rows; r++) p[r] = z[r] > 0;
        return p;
    }

    public bool[] Predict(HostMatrix x) => Predict(x.Span, x.Rows);

    public double Accuracy(ReadOnlySpan<float> x, int rows, ReadOnlySpan<bool> y) => Stats.Accuracy(Predict(x, rows), y);

    public double Accuracy(HostMatrix x, ReadOnlySpan<bool> y) => Accuracy(x.Span, x.Rows, y);

    /// <summary>F1 of the positive class (see <see cref="Stats.F1"/> for the 0/0 convention).</summary>
    public double F1(ReadOnlySpan<float> x, int rows, ReadOnlySpan<bool> y) => Stats.F1(Predict(x, rows), y);

    public double F1(HostMatrix x, ReadOnlySpan<bool> y) => F1(x.Span, x.Rows, y);
}

/// <summary>
/// Binary logistic regression on dense row-major float32 features, computed in double.
/// <para>L2 (<see cref="Fit(ReadOnlyMemory{float},int,int,ReadOnlySpan{bool},LogisticOptions?)"/>): the minimiser of
/// ½‖w‖² + C Σ_i s_i·log(1 + exp(−t_i (w·x_i + b))), t_i = ±1, intercept unpenalised. Like sklearn ≥ 1.4 the
/// optimiser works on the same objective divided by C·S (S = Σ s_i): J = (1/S) Σ s_i ℓ_i + ‖w‖²/(2CS), and
/// stops when max_i |∂J/∂θ_i| ≤ tol (scipy L-BFGS-B's pgtol), when the relative decrease of J is ≤ 64·eps
/// (sklearn's ftol), or after max_iter iterations. Starts from zero; no feature scaling.</para>
/// <para>L1 (<see cref="FitL1(ReadOnlyMemory{float},int,int,ReadOnlySpan{bool},L1LogisticOptions?)"/>): minimises
/// (1/S) Σ s_i ℓ_i + λ‖w‖₁ with OWL-QN.</para>
/// Losses use the softplus form (log1p of exp of a non-positive number), so no input overflows.
/// </summary>
public static class LogisticRegression
{
    public static LogisticModel Fit(HostMatrix x, ReadOnlySpan<bool> y, LogisticOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Fit(x.Memory, x.Rows, x.Cols, y, options);
    }

    public static LogisticModel Fit(ReadOnlyMemory<float> x, int rows, int cols, ReadOnlySpan<bool> y, LogisticOptions? options = null)
    {
        options ??= LogisticOptions.Default;
        options.Validate();
        var weights = SampleWeights(y, rows, options.ClassBalanced);
        double sum = weights.Sum();
        var objective = new LogisticObjective(x, rows, cols, y, weights, 1.0 / (options.C * sum), options.FitIntercept);
        var theta = new double[cols + 1];
        var result = Lbfgs.Minimize(objective.Evaluate, theta, new LbfgsOptions
        {
            GradientTolerance = options.Tolerance,
            RelativeDecreaseTolerance = options.RelativeDecreaseTolerance,
            MaxIterations = options.MaxIterations,
            History = options.History,
        });
        return new LogisticModel(theta[..cols], theta[cols], result);
    }

    public static LogisticModel FitL1(HostMatrix x, ReadOnlySpan<bool> y, L1LogisticOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        return FitL1(x.Memory, x.Rows, x.Cols, y, options);
    }

    public static LogisticModel FitL1(ReadOnlyMemory<float> x, int rows, int cols, ReadOnlySpan<bool> y, L1LogisticOptions? options = null)
    {
        options ??= new L1LogisticOptions();
        options.Validate();
        var weights = SampleWeights(y, rows, options.ClassBalanced);
        var objective = new LogisticObjective(x, rows, cols, y, weights, 0, options.FitIntercept);
        var theta = new double[cols + 1];
        var penalty = new double[cols + 1];
        Array.Fill(penalty, options.Lambda, 0, cols);
        var result = OwlQn.Minimize(objective.Evaluate, penalty, theta, new LbfgsOptions
        {
            GradientTolerance = options.Tolerance,
            MaxIterations = options.MaxIterations,
            History = options.History,
        });
        return new LogisticModel(theta[..cols], theta[cols], result);
    }

    /// <summary>
    /// Per-sample weights: all 1, or sklearn's balanced weights n / (2 · count(class)).
    /// Throws when only one class is present (sklearn refuses too).
    /// </summary>
    public static double[] SampleWeights(ReadOnlySpan<bool> y, int rows, bool classBalanced)
    {
        if (y.Length != rows) throw new ArgumentException($"{y.Length} labels for {rows} rows.", nameof(y));
        int positives = 0;
        foreach (bool v in y) if (v) positives++;
        int negatives = rows - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"Logistic regression needs both classes; got {positives} positive and {negatives} negative labels.", nameof(y));
        var w = new double[rows];
        double wPos = classBalanced ? rows / (2.0 * positives) : 1.0;
        double wNeg = classBalanced ? rows / (2.0 * negatives) : 1.0;
        for (int i = 0; i < rows; i++) w[i] = y[i] ? wPos : wNeg;
        return w;
    }

    internal static void CheckShape(int length, int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"Negative shape {rows}×{cols}.");
        if (length != (long)rows * cols) throw new ArgumentException($"Feature data has {length} values; {rows}×{cols} needs {(long)rows * cols}.");
    }
}

/// <summary>
/// J(w, b) = (1/S) Σ s_i softplus(−t_i z_i) + ½·l2·‖w‖², z_i = w·x_i + b, and its gradient, in one pass over
/// the rows. Rows are split into fixed blocks whose partial sums are added in block order, so the result
/// does not depend on how many threads ran.
/// </summary>
internal sealed class LogisticObjective
{
    private const int BlockRows = 128;
    private const long ParallelThreshold = 1L << 17;

    private readonly ReadOnlyMemory<float> _x;
    private readonly int _rows, _cols;
    private readonly double[] _sign, _weight;
    private readonly double _l2;
    private readonly bool _intercept;
    private readonly double[] _theta;
    private readonly double[][] _blockGrad;
    private readonly double[] _blockLoss;

    public LogisticObjective(ReadOnlyMemory<float> x, int rows, int cols, ReadOnlySpan<bool> y, double[] sampleWeights, double l2, bool intercept)
    {
        LogisticRegression.CheckShape(x.Length, rows, cols);
        _x = x;
        _rows = rows;
        _cols = cols;
        _l2 = l2;
        _intercept = intercept;
        double total = sampleWeights.Sum();
        _sign = new double[rows];
        _weight = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            _sign[i] = y[i] ? 1 : -1;
            _weight[i] = sampleWeights[i] / total;
        }
        _theta = new double[cols + 1];
        int blocks = (rows + BlockRows - 1) / BlockRows;
        _blockGrad = new double[blocks][];
        for (int b = 0; b < blocks; b++) _blockGrad[b] = new double[cols + 1];
        _blockLoss = new double[blocks];
    }

    public double Evaluate(ReadOnlySpan<double> theta, Span<double> gradient)
    {
        theta.CopyTo(_theta);
        if (!_intercept) _theta[_cols] = 0;
        int blocks = _blockGrad.Length;
        if ((long)_rows * Math.Max(_cols, 1) >= ParallelThreshold && blocks > 1)
            Parallel.For(0, blocks, EvaluateBlock);
        else
            for (int b = 0; b < blocks; b++) EvaluateBlock(b);

        gradient.Clear();
        double loss = 0;
        for (int b = 0; b < blocks; b++)
        {
            loss += _blockLoss[b];
            var g = _blockGrad[b];
            for (int j = 0; j <= _cols; j++) gradient[j] += g[j];
        }
        double norm2 = 0;
        for (int j = 0; j < _cols; j++)
        {
            norm2 += _theta[j] * _theta[j];
            gradient[j] += _l2 * _theta[j];
        }
        if (!_intercept) gradient[_cols] = 0;
        return loss + 0.5 * _l2 * norm2;
    }

    private void EvaluateBlock(int block)
    {
        var x = _x.Span;
        var w = _theta.AsSpan(0, _cols);
        double b = _theta[_cols];
        var g = _blockGrad[block];
        Array.Clear(g);
        var gw = g.AsSpan(0, _cols);
        double loss = 0, gb = 0;
        int end = Math.Min(_rows, (block + 1) * BlockRows);
        for (int i = block * BlockRows; i < end; i++)
        {
            var row = x.Slice(i * _cols, _cols);
            double z = MixedPrecision.Dot(row, w) + b;
            double margin = _sign[i] * z;
            loss += _weight[i] * LogisticMath.Softplus(-margin);
            double r = -_sign[i] * _weight[i] * LogisticMath.Sigmoid(-margin);
            if (r != 0) MixedPrecision.Axpy(r, row, gw);
            gb += r;
        }
        g[_cols] = gb;
        _blockLoss[block] = loss;
    }
}

/// <summary>Overflow-free scalar pieces of the logistic loss.</summary>
public static class LogisticMath
{
    /// <summary>log(1 + eᵘ), accurate for every finite u (never exponentiates a positive number).</summary>
    public static double Softplus(double u) => u > 0 ? u + Log1p(Math.Exp(-u)) : Log1p(Math.Exp(u));

    /// <summary>log(1 + e) for e ≥ 0, accurate also when e is tiny (a short series below 1e-4).</summary>
    public static double Log1p(double e) => e < 1e-4 ? e * (1 - e * (0.5 - e / 3)) : Math.Log(1 + e);

    /// <summary>1 / (1 + e⁻ᵘ).</summary>
    public static double Sigmoid(double u)
    {
        if (u >= 0) return 1 / (1 + Math.Exp(-u));
        double e = Math.Exp(u);
        return e / (1 + e);
    }
}
