using SaeBench.Evals.Shared;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Mdl;

/// <summary>What the first pass learns: quantisation ranges, the SAE's FVU and sparsity.</summary>
public sealed record MdlScales(
    float[] LatentMax,
    float[] InputMin,
    float[] InputMax,
    double SumSquaredError,
    double TotalSumOfSquares,
    long Tokens,
    double L0)
{
    /// <summary>FVU = Σ‖x − x̂‖² / Σ‖x − μ‖² (1 − explained_variance). NaN when the inputs have no variance.</summary>
    public double Fvu => TotalSumOfSquares > 0 ? SumSquaredError / TotalSumOfSquares : double.NaN;
}

/// <summary>
/// First streaming pass: feed every batch of inputs x (tokens × d), codes f (tokens × F) and reconstructions
/// x̂ = decode(f). Keeps per-latent maxima, per-dimension input ranges, Σ‖x − x̂‖², the total variance about
/// the global mean (per-dimension Chan/Welford merges, numerically stable) and the active count.
/// </summary>
public sealed class MdlFirstPass
{
    private readonly int _d, _f;
    private readonly float[] _latentMax, _inMin, _inMax;
    private readonly double[] _mean, _m2, _batchMean, _batchM2;
    private double _sse, _active;
    private long _tokens;

    public MdlFirstPass(int inputDim, int latents)
    {
        if (inputDim < 1 || latents < 1) throw new ArgumentOutOfRangeException(nameof(inputDim), "Dimensions must be ≥ 1.");
        _d = inputDim;
        _f = latents;
        _latentMax = new float[latents];
        _inMin = Enumerable.Repeat(float.PositiveInfinity, inputDim).ToArray();
        _inMax = Enumerable.Repeat(float.NegativeInfinity, inputDim).ToArray();
        _mean = new double[inputDim];
        _m2 = new double[inputDim];
        _batchMean = new double[inputDim];
        _batchM2 = new double[inputDim];
    }

    public void Add(HostMatrix inputs, HostMatrix codes, HostMatrix reconstructions)
    {
        MdlChecks.Batch(inputs, codes, _d, _f);
        if (reconstructions.Rows != inputs.Rows || reconstructions.Cols != _d)
            throw new ArgumentException($"Reconstructions are {reconstructions.Rows}×{reconstructions.Cols}; expected {inputs.Rows}×{_d}.", nameof(reconstructions));
        int n = inputs.Rows;
        if (n == 0) return;
        var x = inputs.Span;
        var xh = reconstructions.Span;
        var f = codes.Span;
        Array.Clear(_batchMean);
        Array.Clear(_batchM2);
        for (int t = 0; t < n; t++)
        {
            var row = x.Slice(t * _d, _d);
            var rec = xh.Slice(t * _d, _d);
            for (int i = 0; i < _d; i++)
            {
                float v = row[i];
                _batchMean[i] += v;
                if (v < _inMin[i]) _inMin[i] = v;
                if (v > _inMax[i]) _inMax[i] = v;
                double e = (double)v - rec[i];
                _sse += e * e;
            }
            var code = f.Slice(t * _f, _f);
            for (int j = 0; j < _f; j++)
            {
                float c = code[j];
                if (c > 0)
                {
                    _active++;
                    if (c > _latentMax[j]) _latentMax[j] = c;
                }
            }
        }
        for (int i = 0; i < _d; i++) _batchMean[i] /= n;
        for (int t = 0; t < n; t++)
        {
            var row = x.Slice(t * _d, _d);
            for (int i = 0; i < _d; i++) { double e = row[i] - _batchMean[i]; _batchM2[i] += e * e; }
        }
        Moments.MergePerColumn(_mean, _m2, _tokens, _batchMean, _batchM2, n);
        _tokens += n;
    }

    public MdlScales Result()
    {
        if (_tokens == 0) throw new InvalidOperationException("The MDL first pass saw no tokens.");
        return new MdlScales((float[])_latentMax.Clone(), (float[])_inMin.Clone(), (float[])_inMax.Clone(),
            _sse, _m2.Sum(), _tokens, _active / _tokens);
    }
}

/// <summary>One row of the precision table: the quantised code at B bins.</summary>
public sealed record MdlPrecision(int Bins, double FvuQuantised, double DescriptionLengthBits, double NaiveDescriptionLengthBits);

/// <summary>The MDL metrics (METRICS.md `mdl`); undefined values are NaN / null.</summary>
public sealed record MdlResult(
    int Bins,
    bool MeetsTolerance,
    double Fvu,
    double FvuQuantised,
    double DescriptionLengthBits,
    double NaiveDescriptionLengthBits,
    int? RawBins,
    double RawFvuQuantised,
    double RawDescriptionLengthBits,
    double CompressionRatio,
    double L0,
    long Tokens,
    IReadOnlyList<MdlPrecision> Precisions);

/// <summary>
/// Second streaming pass: for every B of the grid, quantises each batch's codes, decodes them through the
/// callback and accumulates Σ‖x − decode(q_B(f))‖² and per-latent histograms of the quantised active values;
/// also accumulates the error of the per-dimension uniform quantiser of the raw inputs for the raw grid.
/// Memory: F × ΣB counts plus two batch-sized scratch matrices; never tokens × F.
/// </summary>
public sealed class MdlSecondPass
{
    private readonly MdlScales _scales;
    private readonly int[] _grid, _rawGrid;
    private readonly int _d, _f;
    private readonly long[][] _histograms; // per grid entry: F × B, row-major by latent
    private readonly long[] _activeCounts;
    private readonly double[] _sse, _rawSse;
    private long _tokens;

    public MdlSecondPass(MdlScales scales, IReadOnlyList<int>? bins = null, IReadOnlyList<int>? rawBins = null)
    {
        _scales = scales ?? throw new ArgumentNullException(nameof(scales));
        _grid = MdlMath.CheckGrid(bins ?? MdlMath.DefaultBinGrid, nameof(bins));
        _rawGrid = MdlMath.CheckGrid(rawBins ?? MdlMath.DefaultRawBinGrid, nameof(rawBins));
        _d = scales.InputMin.Length;
        _f = scales.LatentMax.Length;
        _histograms = _grid.Select(b => new long[(long)_f * b]).ToArray();
        _activeCounts = new long[_f];
        _sse = new double[_grid.Length];
        _rawSse = new double[_rawGrid.Length];
    }

    public void Add(HostMatrix inputs, HostMatrix codes, CodeDecoder decode)
    {
        ArgumentNullException.ThrowIfNull(decode);
        MdlChecks.Batch(inputs, codes, _d, _f);
        int n = inputs.Rows;
        if (n == 0) return;
        _tokens += n;
        var x = inputs.Span;
        var f = codes.Span;
        var max = _scales.LatentMax;
        for (int t = 0; t < n; t++)
        {
            var code = f.Slice(t * _f, _f);
            for (int j = 0; j < _f; j++)
                if (code[j] > 0) _activeCounts[j]++;
        }

        using var quantised = HostMatrix.Rent(n, _f, clear: false);
        using var decoded = HostMatrix.Rent(n, _d, clear: false);
        for (int g = 0; g < _grid.Length; g++)
        {
            int b = _grid[g];
            var hist = _histograms[g];
            var q = quantised.Span;
            for (int t = 0; t < n; t++)
            {
                var code = f.Slice(t * _f, _f);
                var qrow = q.Slice(t * _f, _f);
                for (int j = 0; j < _f; j++)
                {
                    float v = code[j];
                    if (v > 0 && max[j] > 0)
                    {
                        int index = MdlMath.BinIndex(v, max[j], b);
                        hist[(long)j * b + index]++;
                        qrow[j] = MdlMath.BinMidpoint(index, max[j], b);
                    }
                    else qrow[j] = 0f;
                }
            }
            decode(quantised, decoded);
            if (decoded.Rows != n || decoded.Cols != _d) throw new InvalidOperationException("The decoder changed the destination's shape.");
            var xr = decoded.Span;
            double sse = 0;
            for (int k = 0; k < x.Length; k++) { double e = (double)x[k] - xr[k]; sse += e * e; }
            _sse[g] += sse;
        }

        var lo = _scales.InputMin;
        var hi = _scales.InputMax;
        for (int g = 0; g < _rawGrid.Length; g++)
        {
            int b = _rawGrid[g];
            double sse = 0;
            for (int t = 0; t < n; t++)
            {
                var row = x.Slice(t * _d, _d);
                for (int i = 0; i < _d; i++)
                {
                    double e = (double)row[i] - MdlMath.QuantiseRange(row[i], lo[i], hi[i], b);
                    sse += e * e;
                }
            }
            _rawSse[g] += sse;
        }
    }

    /// <summary>FVU of the quantised code at each grid precision.</summary>
    public double[] FvuQuantised() => _sse.Select(s => s / _scales.TotalSumOfSquares).ToArray();

    /// <summary>FVU of the quantised raw inputs at each raw-grid precision.</summary>
    public double[] RawFvuQuantised() => _rawSse.Select(s => s / _scales.TotalSumOfSquares).ToArray();

    /// <summary>Firing rate ρ_j of every latent on this pass's tokens.</summary>
    public double[] FiringRates() => _activeCounts.Select(c => (double)c / _tokens).ToArray();

    /// <summary>DL per token (bits) at grid entry <paramref name="gridIndex"/>.</summary>
    public double DescriptionLength(int gridIndex)
    {
        int b = _grid[gridIndex];
        var hist = _histograms[gridIndex];
        var entropies = new double[_f];
        for (int j = 0; j < _f; j++) entropies[j] = MdlMath.HistogramEntropy(hist.AsSpan((int)((long)j * b), b));
        return MdlMath.DescriptionLengthPerToken(FiringRates(), entropies);
    }

    /// <summary>
    /// The metrics: B = the smallest grid precision with FVU_quantised ≤ FVU + ε (the largest when none is, with
    /// <see cref="MdlResult.MeetsTolerance"/> false); the raw baseline is held to the FVU_quantised the SAE's code
    /// reaches at that B; compression_ratio = raw DL / DL.
    /// </summary>
    public MdlResult Result(double epsilon = 0.01)
    {
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be ≥ 0.");
        if (_tokens == 0) throw new InvalidOperationException("The MDL second pass saw no tokens.");
        double fvu = _scales.Fvu;
        var fvuQ = FvuQuantised();
        double l0 = _activeCounts.Sum() / (double)_tokens;
        var rows = new MdlPrecision[_grid.Length];
        for (int g = 0; g < _grid.Length; g++)
            rows[g] = new MdlPrecision(_grid[g], fvuQ[g], DescriptionLength(g), MdlMath.NaiveDescriptionLength(l0, _f, _grid[g]));
        int chosen = MdlMath.SelectPrecision(_grid, fvuQ, fvu + epsilon);
        bool meets = chosen >= 0;
        if (!meets) chosen = _grid.Length - 1;
        var row = rows[chosen];

        int rawIndex = MdlMath.SelectPrecision(_rawGrid, RawFvuQuantised(), row.FvuQuantised);
        int? rawBins = rawIndex >= 0 ? _rawGrid[rawIndex] : null;
        double rawFvu = rawIndex >= 0 ? RawFvuQuantised()[rawIndex] : double.NaN;
        double rawDl = rawBins is int rb ? MdlMath.RawDescriptionLength(_d, rb) : double.NaN;
        double ratio = row.DescriptionLengthBits > 0 ? rawDl / row.DescriptionLengthBits : double.NaN;
        return new MdlResult(row.Bins, meets, fvu, row.FvuQuantised, row.DescriptionLengthBits, row.NaiveDescriptionLengthBits,
            rawBins, rawFvu, rawDl, ratio, l0, _tokens, rows);
    }
}

internal static class MdlChecks
{
    public static void Batch(HostMatrix inputs, HostMatrix codes, int d, int f)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(codes);
        if (inputs.Cols != d) throw new ArgumentException($"Inputs have {inputs.Cols} columns; expected d = {d}.", nameof(inputs));
        if (codes.Cols != f) throw new ArgumentException($"Codes have {codes.Cols} columns; expected F = {f}.", nameof(codes));
        if (codes.Rows != inputs.Rows) throw new ArgumentException($"{codes.Rows} code rows for {inputs.Rows} input rows.", nameof(codes));
    }
}
