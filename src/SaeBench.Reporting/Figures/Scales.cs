using System.Globalization;

namespace SaeBench.Reporting.Figures;

/// <summary>Axis domains and ticks: padded so that no point, error bar or reference line touches the frame, with ticks at
/// round values. Both renderers draw exactly these, so a figure looks the same in Vega-Lite and in the static images.</summary>
public static class Scales
{
    /// <summary>Fraction of the data range added on each side.</summary>
    public const double Padding = 0.1;

    /// <summary>A linear axis over <paramref name="values"/> (the extremes of points, error bars and reference lines).
    /// The domain follows the data — it is not forced to include 0 — so differences in the third decimal stay visible.</summary>
    public static Axis Linear(string title, IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0) return new Axis(title, ScaleKind.Linear, 0, 1, NiceTicks(0, 1));
        double lo = finite.Min(), hi = finite.Max();
        double span = hi - lo;
        if (span <= 1e-12 * Math.Max(1, Math.Abs(hi)))
            span = Math.Abs(hi) > 0 ? Math.Abs(hi) * 0.1 : 1;
        lo -= span * Padding;
        hi += span * Padding;
        return new Axis(title, ScaleKind.Linear, lo, hi, NiceTicks(lo, hi));
    }

    /// <summary>A logarithmic axis over the positive <paramref name="values"/>; padded in log space.</summary>
    public static Axis Log(string title, IEnumerable<double> values, ScaleKind kind)
    {
        if (kind == ScaleKind.Linear) throw new ArgumentException("a log scale kind is required", nameof(kind));
        var finite = values.Where(v => double.IsFinite(v) && v > 0).ToList();
        if (finite.Count == 0) finite = [1, 10];
        double lo = Math.Log10(finite.Min()), hi = Math.Log10(finite.Max());
        double span = hi - lo;
        if (span < 0.05) span = 0.3;
        lo -= span * Padding;
        hi += span * Padding;
        double min = Math.Pow(10, lo), max = Math.Pow(10, hi);
        var ticks = kind == ScaleKind.Log2 ? PowerOfTwoTicks(min, max) : LogTicks(min, max);
        return new Axis(title, kind, min, max, ticks);
    }

    /// <summary>Round ticks (steps of 1, 2 or 5 × 10^k), about five over the domain.</summary>
    public static IReadOnlyList<Tick> NiceTicks(double min, double max, int target = 5)
    {
        double raw = (max - min) / Math.Max(1, target - 1);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2.0, 2.5, 5.0, 10.0 }.Select(m => m * mag).First(s => s >= raw * 0.999);
        var ticks = new List<Tick>();
        int decimals = 0;
        while (decimals < 10 && Math.Abs(step * Math.Pow(10, decimals) - Math.Round(step * Math.Pow(10, decimals))) > 1e-6) decimals++;
        for (double v = Math.Ceiling(min / step) * step; v <= max + step * 1e-9; v += step)
        {
            double t = Math.Round(v / step) * step;
            if (Math.Abs(t) < step * 1e-9) t = 0;
            ticks.Add(new Tick(t, Format(t, decimals)));
        }
        return ticks;
    }

    private static IReadOnlyList<Tick> LogTicks(double min, double max)
    {
        foreach (var mantissas in new[] { new[] { 1.0 }, [1.0, 2.0, 5.0], [1.0, 2.0, 3.0, 5.0], [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0] })
        {
            var ticks = new List<double>();
            for (int e = (int)Math.Floor(Math.Log10(min)) - 1; e <= (int)Math.Ceiling(Math.Log10(max)) + 1; e++)
                foreach (var m in mantissas)
                {
                    double v = m * Math.Pow(10, e);
                    if (v >= min && v <= max) ticks.Add(v);
                }
            if (ticks.Count >= 3 || mantissas.Length == 8) return ticks.Distinct().Order().Select(v => new Tick(v, Compact(v))).ToList();
        }
        return [];
    }

    private static IReadOnlyList<Tick> PowerOfTwoTicks(double min, double max)
    {
        var ticks = new List<double>();
        for (int e = (int)Math.Floor(Math.Log2(min)); e <= (int)Math.Ceiling(Math.Log2(max)); e++)
        {
            double v = Math.Pow(2, e);
            if (v >= min && v <= max) ticks.Add(v);
        }
        while (ticks.Count > 6) ticks = ticks.Where((_, i) => i % 2 == 0).ToList();
        return ticks.Select(v => new Tick(v, Compact(v))).ToList();
    }

    /// <summary>A tick label: plain digits up to 99,999, then k/M suffixes; small values with their significant digits.</summary>
    public static string Compact(double v)
    {
        if (v >= 1e6 && v % 1e6 == 0) return (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M";
        if (v >= 1e5 && v % 1e3 == 0) return (v / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "k";
        return v.ToString(v >= 1 ? "0.##" : "G3", CultureInfo.InvariantCulture);
    }

    private static string Format(double v, int decimals) => v.ToString("F" + Math.Min(decimals, 10), CultureInfo.InvariantCulture);
}
