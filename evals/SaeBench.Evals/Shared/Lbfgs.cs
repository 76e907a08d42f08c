namespace SaeBench.Evals.Shared;

/// <summary>A smooth objective: returns f(x) and writes ∇f(x) into <paramref name="gradient"/>.</summary>
public delegate double SmoothObjective(ReadOnlySpan<double> x, Span<double> gradient);

/// <summary>Why a minimiser stopped.</summary>
public enum StopReason
{
    /// <summary>max_i |g_i| ≤ tolerance (the projected-gradient test of scipy's L-BFGS-B, no bounds).</summary>
    GradientTolerance,
    /// <summary>(f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ the relative decrease tolerance.</summary>
    RelativeDecrease,
    MaxIterations,
    /// <summary>The line search found no acceptable step (usually: at the limit of floating-point precision).</summary>
    LineSearchFailed,
}

/// <summary>Settings of <see cref="Lbfgs"/>. Defaults are scipy's L-BFGS-B as sklearn calls it.</summary>
public sealed record LbfgsOptions
{
    /// <summary>Stop when max_i |∇f_i| ≤ this.</summary>
    public double GradientTolerance { get; init; } = 1e-4;
    /// <summary>Stop when the relative decrease of f falls to this (sklearn passes 64·machine epsilon).</summary>
    public double RelativeDecreaseTolerance { get; init; } = 64 * 2.220446049250313e-16;
    public int MaxIterations { get; init; } = 1000;
    /// <summary>Number of correction pairs kept (scipy's maxcor).</summary>
    public int History { get; init; } = 10;
    /// <summary>Function evaluations allowed per line search (sklearn's maxls).</summary>
    public int MaxLineSearchEvaluations { get; init; } = 50;
    /// <summary>Armijo constant c1 of the strong Wolfe conditions.</summary>
    public double SufficientDecrease { get; init; } = 1e-4;
    /// <summary>Curvature constant c2 of the strong Wolfe conditions.</summary>
    public double Curvature { get; init; } = 0.9;

    public void Validate()
    {
        if (!(GradientTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(GradientTolerance), GradientTolerance, "Must be ≥ 0.");
        if (!(RelativeDecreaseTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(RelativeDecreaseTolerance), RelativeDecreaseTolerance, "Must be ≥ 0.");
        if (MaxIterations < 0) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "Must be ≥ 0.");
        if (History < 1) throw new ArgumentOutOfRangeException(nameof(History), History, "Must be ≥ 1.");
        if (MaxLineSearchEvaluations < 1) throw new ArgumentOutOfRangeException(nameof(MaxLineSearchEvaluations), MaxLineSearchEvaluations, "Must be ≥ 1.");
        if (!(SufficientDecrease > 0 && SufficientDecrease < Curvature && Curvature < 1))
            throw new ArgumentOutOfRangeException(nameof(Curvature), $"Need 0 < c1 ({SufficientDecrease}) < c2 ({Curvature}) < 1.");
    }
}

/// <summary>Outcome of a minimisation; the solution itself is left in the caller's x.</summary>
public sealed record MinimizationResult(double Value, double GradientInfNorm, int Iterations, int Evaluations, StopReason Reason)
{
    /// <summary>True when stopped by a tolerance rather than by a limit or a failure.</summary>
    public bool Converged => Reason is StopReason.GradientTolerance or StopReason.RelativeDecrease;
}

/// <summary>
/// Limited-memory BFGS (Nocedal &amp; Wright, Alg. 7.4/7.5) with a strong-Wolfe line search
/// (bracketing + zoom with safeguarded cubic interpolation, N&amp;W Alg. 3.5/3.6). The first step has
/// length 1/‖g‖₂ as in L-BFGS-B; later steps start at 1.
/// </summary>
public static class Lbfgs
{
    /// <summary>Minimises <paramref name="objective"/> starting from <paramref name="x"/>, which receives the solution.</summary>
    public static MinimizationResult Minimize(SmoothObjective objective, Span<double> x, LbfgsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(objective);
        options ??= new LbfgsOptions();
        options.Validate();
        int n = x.Length;
        var history = new LbfgsHistory(options.History, n);
        var g = new double[n];
        var gNew = new double[n];
        var d = new double[n];
        var xNew = new double[n];
        int evaluations = 0;

        double f = objective(x, g);
        evaluations++;
        ThrowIfNotFinite(f, "objective at the starting point");
        double gInf = InfNorm(g);
        if (gInf <= options.GradientTolerance) return new MinimizationResult(f, gInf, 0, evaluations, StopReason.GradientTolerance);

        for (int iter = 1; iter <= options.MaxIterations; iter++)
        {
            history.Direction(g, d);
            double slope = Dot(g, d);
            if (!(slope < 0))
            {
                // Not a descent direction (numerical trouble): restart from steepest descent.
                history.Clear();
                for (int i = 0; i < n; i++) d[i] = -g[i];
                slope = -Dot(g, g);
            }
            double alpha0 = history.Stored == 0 && iter == 1 ? 1.0 / Math.Sqrt(Dot(g, g)) : 1.0;

            var search = new LineSearch(objective, x, d, xNew, gNew, f, slope, options);
            double fNew = search.Run(alpha0, out double step, out bool ok);
            evaluations += search.Evaluations;
            if (!ok) return new MinimizationResult(f, gInf, iter, evaluations, StopReason.LineSearchFailed);

            history.Add(x, xNew, g, gNew);

            double fOld = f;
            xNew.CopyTo(x);
            gNew.CopyTo(g, 0);
            f = fNew;
            gInf = InfNorm(g);
            if (gInf <= options.GradientTolerance) return new MinimizationResult(f, gInf, iter, evaluations, StopReason.GradientTolerance);
            if ((fOld - f) / Math.Max(Math.Max(Math.Abs(fOld), Math.Abs(f)), 1.0) <= options.RelativeDecreaseTolerance)
                return new MinimizationResult(f, gInf, iter, evaluations, StopReason.RelativeDecrease);
        }
        return new MinimizationResult(f, gInf, options.MaxIterations, evaluations, StopReason.MaxIterations);
    }

    /// <summary>Strong-Wolfe line search along d from x; on success xNew/gNew hold the accepted point.</summary>
    private sealed class LineSearch(SmoothObjective objective, ReadOnlySpan<double> x, double[] d, double[] xNew, double[] gNew,
        double f0, double slope0, LbfgsOptions options)
    {
        private readonly double[] _x = x.ToArray();
        private double _lastAlpha = double.NaN;
        public int Evaluations { get; private set; }

        private (double F, double Slope) Evaluate(double alpha)
        {
            for (int i = 0; i < _x.Length; i++) xNew[i] = _x[i] + alpha * d[i];
            double f = objective(xNew, gNew);
            Evaluations++;
            _lastAlpha = alpha;
            return (f, Dot(gNew, d));
        }

        public double Run(double alpha, out double accepted, out bool ok)
        {
            double c1 = options.SufficientDecrease, c2 = options.Curvature;
            double aPrev = 0, fPrev = f0, dPrev = slope0;
            const double alphaMax = 1e20;
            while (Evaluations < options.MaxLineSearchEvaluations)
            {
                var (f, slope) = Evaluate(alpha);
                if (!double.IsFinite(f))
                {
                    // Overshot into overflow: treat like a failed Armijo test and shrink towards aPrev.
                    return Zoom(aPrev, fPrev, dPrev, alpha, double.PositiveInfinity, double.NaN, out accepted, out ok);
                }
                if (f > f0 + c1 * alpha * slope0 || (Evaluations > 1 && f >= fPrev))
                    return Zoom(aPrev, fPrev, dPrev, alpha, f, slope, out accepted, out ok);
                if (Math.Abs(slope) <= -c2 * slope0) { accepted = alpha; ok = true; return f; }
                if (slope >= 0)
                    return Zoom(alpha, f, slope, aPrev, fPrev, dPrev, out accepted, out ok);
                aPrev = alpha; fPrev = f; dPrev = slope;
                alpha = Math.Min(alpha * 4, alphaMax);
            }
            return Finish(aPrev, fPrev, out accepted, out ok);
        }

        private double Zoom(double lo, double fLo, double dLo, double hi, double fHi, double dHi, out double accepted, out bool ok)
        {
            double c1 = options.SufficientDecrease, c2 = options.Curvature;
            while (Evaluations < options.MaxLineSearchEvaluations)
            {
                double width = hi - lo;
                if (Math.Abs(width) <= 1e-16 * Math.Max(Math.Abs(lo), Math.Abs(hi))) break;
                double alpha = Interpolate(lo, fLo, dLo, hi, fHi, dHi);
                double a = Math.Min(lo, hi), b = Math.Max(lo, hi), margin = 0.1 * (b - a);
                if (!double.IsFinite(alpha) || alpha < a + margin || alpha > b - margin) alpha = 0.5 * (lo + hi);
                var (f, slope) = Evaluate(alpha);
                if (!double.IsFinite(f) || f > f0 + c1 * alpha * slope0 || f >= fLo)
                {
                    hi = alpha; fHi = f; dHi = slope;
                }
                else
                {
                    if (Math.Abs(slope) <= -c2 * slope0) { accepted = alpha; ok = true; return f; }
                    if (slope * (hi - lo) >= 0) { hi = lo; fHi = fLo; dHi = dLo; }
                    lo = alpha; fLo = f; dLo = slope;
                }
            }
            return Finish(lo, fLo, out accepted, out ok);
        }

        /// <summary>Out of evaluations: accept the best point found if it decreased f, else fail.</summary>
        private double Finish(double lo, double fLo, out double accepted, out bool ok)
        {
            accepted = lo;
            ok = lo > 0 && fLo < f0;
            if (!ok) return f0;
            if (_lastAlpha != lo) Evaluate(lo);
            return fLo;
        }

        /// <summary>Minimiser of the cubic matching f and f' at both ends; quadratic when the cubic has none.</summary>
        private static double Interpolate(double a, double fa, double da, double b, double fb, double db)
        {
            if (!double.IsFinite(fb)) return 0.5 * (a + b);
            if (double.IsFinite(db))
            {
                double d1 = da + db - 3 * (fa - fb) / (a - b);
                double disc = d1 * d1 - da * db;
                if (disc >= 0)
                {
                    double d2 = Math.Sign(b - a) * Math.Sqrt(disc);
                    return b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2);
                }
            }
            // Quadratic through f(a), f'(a), f(b).
            double h = b - a;
            double denom = 2 * (fb - fa - da * h);
            return denom > 0 ? a - da * h * h / denom : 0.5 * (a + b);
        }
    }

    internal static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    internal static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] += a * x[i];
    }

    internal static double InfNorm(ReadOnlySpan<double> v)
    {
        double m = 0;
        foreach (double e in v) m = Math.Max(m, Math.Abs(e));
        return m;
    }

    internal static void ThrowIfNotFinite(double value, string what)
    {
        if (!double.IsFinite(value)) throw new ArithmeticException($"The {what} is not finite ({value}); check the inputs for NaN or infinity.");
    }
}
