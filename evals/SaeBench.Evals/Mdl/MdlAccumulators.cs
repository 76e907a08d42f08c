using SaeBench.Evals.Shared;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Mdl;

/// <summary>What the first pass learns: quantisation ranges, the SAE's FVU and sparsity.</summary>
/// <param name="LatentMax">Per latent, the largest |f_j| over its non-zero values (the quantiser's range).</param>
/// <param name="Signed">Per latent, whether it ever took a negative value (PCA, identity): its values are quantised on
/// symmetric bins, B per sign, so that the sign is part of the coded value.</param>
public sealed record MdlScales(
    float[] LatentMax,
    bool[] Signed,
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
/// x̂ = decode(f). Keeps per-latent maxima of |f_j| and signs, per-dimension input ranges, Σ‖x − x̂‖², the total variance about
/// the global mean (per-dimension Chan/Welford merges, numerically stable) and the active count.
/// </summary>
public sealed class MdlFirstPass
{
    private readonly int _d, _f;
    private readonly float[] _latentMax, _inMin, _inMax;
    private readonly bool[] _signed;
    private readonly double[] _mean, _m2, _batchMean, _batchM2;
    private double _sse, _active;
    private long _tokens;

    public MdlFirstPass(int inputDim, int latents)
    {
        if (inputDim < 1 || latents < 1) throw new ArgumentOutOfRangeException(nameof(inputDim), "Dimensions must be ≥ 1.");
        _d = inputDim;
        _f = latents;
        _latentMax = new float[latents];
        _signed = new bool[latents];
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
                if (c != 0)
                {
                    _active++;
                    float a = Math.Abs(c);
                    if (a > _latentMax[j]) _latentMax[j] = a;
                    if (c < 0) _signed[j] = true;
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
        return new MdlScales((float[])_latentMax.Clone(), (bool[])_signed.Clone(), (float[])_inMin.Clone(), (float[])_inMax.Clone(),
            _sse, _m2.Sum(), _tokens, _active / _tokens);
    }
}

/// <summary>One row of the precision table: the quantised code at B bins.</summary>
public sealed record MdlPrecision(int Bins, double FvuQuantised, double DescriptionLengthBits, double NaiveDescriptionLengthBits);

/// <summary>
/// The MDL metrics (METRICS.md `mdl`) at one distortion target ε common to every SAE; undefined values are NaN / null.
/// When no grid precision brings FVU_quantised to ε (<see cref="MeetsTarget"/> false) the SAE is excluded: every
/// description length is NaN.
/// </summary>
/// <param name="Bins">The precision at ε: bins per latent (and per sign), interpolated in log₂ B between the two grid
/// precisions whose FVU_quantised straddle ε; the coarsest grid precision when it already meets ε.</param>
/// <param name="AtCoarsest">ε is met at the coarsest grid precision already: the description length is that precision's
/// (an upper bound: a coarser code might still meet ε).</param>
public sealed record MdlResult(
    double FvuTarget,
    bool MeetsTarget,
    bool AtCoarsest,
    double Bins,
    double Fvu,
    double FvuQuantised,
    double DescriptionLengthBits,
    double NaiveDescriptionLengthBits,
    double DictionaryBitsPerToken,
    double RawBins,
    double RawFvuQuantised,
    double RawDescriptionLengthBits,
    double CompressionRatio,
    double L0,
    long Tokens,
    int SignedLatents,
    IReadOnlyList<MdlPrecision> Precisions);

/// <summary>
/// Second streaming pass: for every B of the grid, quantises each batch's codes, decodes them through the
/// callback and accumulates Σ‖x − decode(q_B(f))‖² and per-latent histograms of the quantised active values (B bins on
/// [0, max|f_j|], or 2B symmetric bins for a latent that takes negative values); also accumulates the error of the
/// per-dimension uniform quantiser of the raw inputs for the raw grid.
/// Memory: F × ΣB counts (2B for signed latents) plus two batch-sized scratch matrices; never tokens × F.
/// </summary>
public sealed class MdlSecondPass
{
    private readonly MdlScales _scales;
    private readonly int[] _grid, _rawGrid;
    private readonly int _d, _f;
    private readonly long[] _units;        // latent j's histogram starts at _units[j]·B (signed latents take 2 units)
    private readonly long[][] _histograms; // per grid entry: _units[F]·B counts
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
        if (scales.Signed.Length != _f) throw new ArgumentException($"{scales.Signed.Length} sign flags for {_f} latents.", nameof(scales));
        _units = new long[_f + 1];
        for (int j = 0; j < _f; j++) _units[j + 1] = _units[j] + (scales.Signed[j] ? 2 : 1);
        _histograms = _grid.Select(b => new long[_units[_f] * b]).ToArray();
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
                if (code[j] != 0) _activeCounts[j]++;
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
                    if (v != 0 && max[j] > 0)
                    {
                        int index = MdlMath.BinIndex(Math.Abs(v), max[j], b);
                        // A negative value of a signed latent uses the second block of B bins: the sign is part of the symbol.
                        hist[_units[j] * b + (v < 0 ? b : 0) + index]++;
                        float mid = MdlMath.BinMidpoint(index, max[j], b);
                        qrow[j] = v < 0 ? -mid : mid;
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

    /// <summary>Firing rate ρ_j (f_j ≠ 0) of every latent on this pass's tokens.</summary>
    public double[] FiringRates() => _activeCounts.Select(c => (double)c / _tokens).ToArray();

    /// <summary>DL per token (bits) at grid entry <paramref name="gridIndex"/>.</summary>
    public double DescriptionLength(int gridIndex)
    {
        int b = _grid[gridIndex];
        var hist = _histograms[gridIndex];
        var entropies = new double[_f];
        for (int j = 0; j < _f; j++)
            entropies[j] = MdlMath.HistogramEntropy(hist.AsSpan((int)(_units[j] * b), (int)((_units[j + 1] - _units[j]) * b)));
        return MdlMath.DescriptionLengthPerToken(FiringRates(), entropies);
    }

    /// <summary>
    /// The metrics at the distortion target <paramref name="fvuTarget"/> (ε, the same for every SAE): the description
    /// length where FVU_quantised reaches ε, interpolated linearly in FVU between the two grid precisions that straddle it
    /// (<see cref="MdlMath.AtTarget"/>); NaN — the SAE excluded — when even the finest grid precision misses ε. The raw
    /// baseline is held to the same ε. <paramref name="dictionaryBitsPerToken"/> (≥ 0) is added to the description length
    /// (the dictionary's cost amortised over the tokens; 0 = the code alone).
    /// </summary>
    public MdlResult Result(double fvuTarget = 0.1, double dictionaryBitsPerToken = 0)
    {
        if (!(fvuTarget > 0) || !double.IsFinite(fvuTarget)) throw new ArgumentOutOfRangeException(nameof(fvuTarget), fvuTarget, "ε must be a finite number > 0.");
        if (!(dictionaryBitsPerToken >= 0)) throw new ArgumentOutOfRangeException(nameof(dictionaryBitsPerToken), dictionaryBitsPerToken, "Must be ≥ 0.");
        if (_tokens == 0) throw new InvalidOperationException("The MDL second pass saw no tokens.");
        double fvu = _scales.Fvu;
        var fvuQ = FvuQuantised();
        var rates = FiringRates();
        double l0 = rates.Sum();
        double signedL0 = 0;
        for (int j = 0; j < _f; j++) if (_scales.Signed[j]) signedL0 += rates[j];
        var rows = new MdlPrecision[_grid.Length];
        for (int g = 0; g < _grid.Length; g++)
            rows[g] = new MdlPrecision(_grid[g], fvuQ[g], DescriptionLength(g),
                MdlMath.NaiveDescriptionLength(l0, _f, _grid[g]) + signedL0); // one sign bit per active signed latent

        var at = MdlMath.AtTarget(_grid, fvuQ, fvuTarget);
        double bins = double.NaN, fvuAt = double.NaN, dl = double.NaN, naive = double.NaN;
        if (at is { } a)
        {
            bins = a.Bins;
            fvuAt = a.Interpolate(fvuQ);
            dl = a.Interpolate(rows.Select(r => r.DescriptionLengthBits).ToArray()) + dictionaryBitsPerToken;
            naive = a.Interpolate(rows.Select(r => r.NaiveDescriptionLengthBits).ToArray());
        }
        double rawBins = double.NaN, rawFvu = double.NaN, rawDl = double.NaN;
        if (at is not null && MdlMath.AtTarget(_rawGrid, RawFvuQuantised(), fvuTarget) is { } raw)
        {
            rawBins = raw.Bins;
            rawFvu = raw.Interpolate(RawFvuQuantised());
            rawDl = MdlMath.RawDescriptionLength(_d, raw.Bins);
        }
        double ratio = dl > 0 ? rawDl / dl : double.NaN;
        return new MdlResult(fvuTarget, at is not null, at is { Index: 0 }, bins, fvu, fvuAt, dl, naive, dictionaryBitsPerToken,
            rawBins, rawFvu, rawDl, ratio, l0, _tokens, _scales.Signed.Count(v => v), rows);
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
