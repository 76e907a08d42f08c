namespace SaeBench.Evals.Shared;

/// <summary>
/// Orthant-wise limited-memory quasi-Newton (Andrew &amp; Gao 2007) for F(x) = f(x) + Σ_i λ_i |x_i| with f smooth
/// and λ_i ≥ 0 (λ_i = 0 leaves coordinate i unpenalised). Stops when the pseudo-gradient's max-norm is ≤ the
/// gradient tolerance, when the relative decrease of F is ≤ the relative tolerance, or at the iteration limit.
/// The line search backtracks (halving) with projection onto the orthant of the current point.
/// </summary>
public static class OwlQn
{
    public static MinimizationResult Minimize(SmoothObjective smooth, ReadOnlySpan<double> penalty, Span<double> x, LbfgsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(smooth);
        options ??= new LbfgsOptions();
        options.Validate();
        int n = x.Length;
        if (penalty.Length != n) throw new ArgumentException($"{penalty.Length} penalties for {n} coordinates.", nameof(penalty));
        foreach (double l in penalty)
            if (!(l >= 0) || !double.IsFinite(l)) throw new ArgumentOutOfRangeException(nameof(penalty), l, "Penalties must be finite and ≥ 0.");
        var lambda = penalty.ToArray();
        var history = new LbfgsHistory(options.History, n);
        var g = new double[n];
        var gNew = new double[n];
        var pg = new double[n];
        var d = new double[n];
        var xNew = new double[n];
        var orthant = new double[n];
        int evaluations = 0;

        double F = smooth(x, g) + L1(x, lambda);
        evaluations++;
        Lbfgs.ThrowIfNotFinite(F, "objective at the starting point");
        PseudoGradient(x, g, lambda, pg);
        double pgInf = Lbfgs.InfNorm(pg);
        if (pgInf <= options.GradientTolerance) return new MinimizationResult(F, pgInf, 0, evaluations, StopReason.GradientTolerance);

        for (int iter = 1; iter <= options.MaxIterations; iter++)
        {
            history.Direction(pg, d);
            // Keep only components that agree in sign with the steepest descent direction −pg.
            for (int i = 0; i < n; i++)
                if (lambda[i] > 0 && d[i] * pg[i] >= 0) d[i] = 0;
            double slope = Lbfgs.Dot(pg, d);
            if (!(slope < 0))
            {
                history.Clear();
                for (int i = 0; i < n; i++) d[i] = -pg[i];
                slope = -Lbfgs.Dot(pg, pg);
            }
            for (int i = 0; i < n; i++) orthant[i] = x[i] != 0 ? Math.Sign(x[i]) : Math.Sign(-pg[i]);

            double alpha = iter == 1 ? 1.0 / Math.Sqrt(Lbfgs.Dot(pg, pg)) : 1.0;
            double FNew = double.NaN;
            bool accepted = false;
            for (int trial = 0; trial < options.MaxLineSearchEvaluations; trial++)
            {
                for (int i = 0; i < n; i++)
                {
                    double v = x[i] + alpha * d[i];
                    xNew[i] = lambda[i] > 0 && Math.Sign(v) != orthant[i] ? 0 : v;
                }
                FNew = smooth(xNew, gNew) + L1(xNew, lambda);
                evaluations++;
                double decrease = 0;
                for (int i = 0; i < n; i++) decrease += pg[i] * (xNew[i] - x[i]);
                if (double.IsFinite(FNew) && FNew <= F + options.SufficientDecrease * decrease) { accepted = true; break; }
                alpha *= 0.5;
            }
            if (!accepted) return new MinimizationResult(F, pgInf, iter, evaluations, StopReason.LineSearchFailed);

            history.Add(x, xNew, g, gNew);

            double FOld = F;
            xNew.CopyTo(x);
            gNew.CopyTo(g, 0);
            F = FNew;
            PseudoGradient(x, g, lambda, pg);
            pgInf = Lbfgs.InfNorm(pg);
            if (pgInf <= options.GradientTolerance) return new MinimizationResult(F, pgInf, iter, evaluations, StopReason.GradientTolerance);
            if ((FOld - F) / Math.Max(Math.Max(Math.Abs(FOld), Math.Abs(F)), 1.0) <= options.RelativeDecreaseTolerance)
                return new MinimizationResult(F, pgInf, iter, evaluations, StopReason.RelativeDecrease);
        }
        return new MinimizationResult(F, pgInf, options.MaxIterations, evaluations, StopReason.MaxIterations);
    }

    /// <summary>
    /// The minimum-norm subgradient of f + Σ λ_i|x_i|: g_i + λ_i·sign(x_i) off zero; at zero, the part of
    /// g_i outside [−λ_i, λ_i] (0 inside).
    /// </summary>
    public static void PseudoGradient(ReadOnlySpan<double> x, ReadOnlySpan<double> g, ReadOnlySpan<double> lambda, Span<double> pg)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double l = lambda[i];
            if (x[i] > 0) pg[i] = g[i] + l;
            else if (x[i] < 0) pg[i] = g[i] - l;
            else if (g[i] + l < 0) pg[i] = g[i] + l;
            else if (g[i] - l > 0) pg[i] = g[i] - l;
            else pg[i] = 0;
        }
    }

    private static double L1(ReadOnlySpan<double> x, ReadOnlySpan<double> lambda)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += lambda[i] * Math.Abs(x[i]);
        return sum;
    }
}
