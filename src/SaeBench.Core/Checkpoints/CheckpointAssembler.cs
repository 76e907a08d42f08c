using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints;

/// <summary>
/// Turns a <see cref="CheckpointPlan"/> into an SAE (or a description of one), checking on the way that every
/// required tensor is present, that shapes agree with each other and with the configuration, and that weights are finite.
/// </summary>
public static class CheckpointAssembler
{
    private const int StreamChunkElements = 1 << 20;

    /// <summary>Reads every tensor and builds the SAE.</summary>
    public static LoadedCheckpoint Materialize(CheckpointPlan plan, LoadOptions options)
    {
        var (dIn, dSae) = CheckShapes(plan);
        var found = new Dictionary<string, NonFiniteCount>(StringComparer.Ordinal);
        var warnings = new List<string>(plan.Warnings);
        WarnBatchSelection(plan, warnings);
        string file = plan.Source.File;

        void Check(string name, ReadOnlySpan<float> values)
        {
            if (NonFinite(values, 0) is not { } bad) return;
            found[name] = bad;
            Judge(file, name, bad, options, warnings);
        }

        HostMatrix Matrix(TensorBinding b, int rows, int cols)
        {
            var stored = b.Transposed ? new HostMatrix(cols, rows) : new HostMatrix(rows, cols);
            ReadAll(plan.Source, b.Name, stored.Span);
            Check(b.Name, stored.Span);
            return b.Transposed ? stored.Transpose() : stored;
        }

        float[]? Vector(TensorBinding? b, int length)
        {
            if (b is null) return null;
            var v = new float[length];
            plan.Source.Read(b.Name, 0, v);
            Check(b.Name, v);
            return v;
        }

        JudgeScalarThreshold(plan, options, warnings);
        var parameters = new SaeParameters
        {
            WEnc = Matrix(plan.WEnc, dIn, dSae),
            WDec = Matrix(plan.WDec, dSae, dIn),
            BEnc = Vector(plan.BEnc, dSae) ?? new float[dSae],
            BDec = Vector(plan.BDec, dIn)!,
            Threshold = Vector(plan.Threshold, dSae),
            BGate = Vector(plan.BGate, dSae),
            RMag = Vector(plan.RMag, dSae),
            BMag = Vector(plan.BMag, dSae),
            ScalarThreshold = plan.ScalarThreshold,
            K = plan.K,
            ApplyBDecToInput = plan.ApplyBDecToInput,
            InputScale = plan.InputScale,
            GroupSizes = plan.GroupSizes,
        };

        Autoencoders.Sae sae;
        try
        {
            sae = new Autoencoders.Sae(plan.Architecture, parameters, plan.Config);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(plan.Layout.ConfigFile ?? file, null, e.Message);
        }
        // Every byte was just read: remember the scan (of the weights as stored) so that a later inspect need not read them again.
        var stored = new CheckpointScan(SummaryStats.Of(sae.DecoderNorms()), found);
        var digest = Remember(plan.Layout, options.Digests,
            known => known?.Scan is not null ? known : new CheckpointDigest(known?.Sha256 ?? CheckpointHash.Compute(plan.Layout.IdentityFiles), stored));
        var reported = stored;
        if (options.FoldDecoderNorms)
        {
            try
            {
                sae = sae.FoldDecoderNorms();
                reported = stored with { DecoderNorms = SummaryStats.Of(sae.DecoderNorms()) }; // what the caller gets: unit rows
                warnings.Add("decoder norms folded: decoder rows are unit-norm, codes are scaled by the original norms");
            }
            catch (InvalidOperationException e)
            {
                warnings.Add("decoder norms not folded: " + e.Message);
            }
        }

        var info = BuildInfo(plan, dIn, dSae, parameters.Threshold, digest with { Scan = reported }, warnings, InspectScan.Full, bytesRead: null);
        return new LoadedCheckpoint(sae, info);
    }

    /// <summary>
    /// Describes the checkpoint without materialising its matrices. <see cref="InspectDepth.Full"/> streams every tensor
    /// in chunks (memory stays constant) for the non-finite check and the decoder-norm statistics while another thread
    /// hashes the files — unless <see cref="LoadOptions.Digests"/> remembers them from an earlier read of the same,
    /// unchanged files, in which case no tensor data is read at all. <see cref="InspectDepth.Quick"/> never reads the
    /// matrices: the hash, the decoder norms and the non-finite check come from the cache or are left out.
    /// </summary>
    public static CheckpointInfo Describe(CheckpointPlan plan, LoadOptions options, InspectDepth depth = InspectDepth.Full)
    {
        var (dIn, dSae) = CheckShapes(plan);
        var warnings = new List<string>(plan.Warnings);
        WarnBatchSelection(plan, warnings);
        var source = new CountingTensorSource(plan.Source);
        JudgeScalarThreshold(plan, options, warnings);
        float[]? threshold = null;
        if (plan.Threshold is not null)
        {
            threshold = new float[dSae];
            source.Read(plan.Threshold.Name, 0, threshold);
        }

        CheckpointDigest? digest;
        var kind = InspectScan.Cached;
        long hashed = 0;
        if (depth == InspectDepth.Quick)
        {
            digest = options.Digests?.TryGet(plan.Layout);
            if (digest?.Scan is null) kind = InspectScan.Skipped;
        }
        else
        {
            digest = Remember(plan.Layout, options.Digests, known =>
            {
                if (known?.Scan is not null) return known;
                kind = InspectScan.Full;
                var hashing = known is null ? Task.Run(() => CheckpointHash.Compute(plan.Layout.IdentityFiles)) : null;
                CheckpointScan scan;
                try
                {
                    scan = Scan(plan, source, dSae);
                }
                catch
                {
                    try { hashing?.Wait(); } catch (AggregateException) { }
                    throw;
                }
                if (hashing is not null) hashed = CheckpointHash.BytesToHash(plan.Layout);
                return new CheckpointDigest(known?.Sha256 ?? hashing!.GetAwaiter().GetResult(), scan);
            });
        }
        if (digest?.Scan is { } s)
            foreach (var (_, binding) in plan.Bindings())
                if (s.NonFinite.TryGetValue(binding.Name, out var bad)) Judge(plan.Source.File, binding.Name, bad, options, warnings);
        return BuildInfo(plan, dIn, dSae, threshold, digest, warnings, kind, source.BytesRead + hashed);
    }

    /// <summary>Reads a whole tensor in slices of at most <see cref="StreamChunkElements"/> × 256 elements (readers take under 2 GB at a time).</summary>
    private static void ReadAll(ITensorSource source, string name, Span<float> destination)
    {
        const int slice = StreamChunkElements * 256;
        for (int start = 0; start < destination.Length; start += slice)
            source.Read(name, start, destination.Slice(start, Math.Min(slice, destination.Length - start)));
    }

    private static CheckpointDigest Remember(CheckpointLayout layout, CheckpointDigestCache? cache, Func<CheckpointDigest?, CheckpointDigest> complete) =>
        cache?.Update(layout, complete) ?? complete(null);

    /// <summary>One streaming pass over every bound tensor: non-finite values per tensor and the decoder row norms.</summary>
    private static CheckpointScan Scan(CheckpointPlan plan, ITensorSource source, int dSae)
    {
        var chunk = new float[StreamChunkElements];
        var sumSquares = new double[dSae];
        var found = new Dictionary<string, NonFiniteCount>(StringComparer.Ordinal);
        foreach (var (role, binding) in plan.Bindings())
        {
            source.TryDescribe(binding.Name, out var d);
            long total = d.ElementCount;
            // Whole rows per chunk (W_dec's norms are per row); a vector is rows of one element.
            int rowLength = d.Shape.Count == 2 ? (int)Math.Max(1, d.Shape[1]) : 1;
            if (rowLength > chunk.Length) chunk = new float[rowLength];
            int rowsPerChunk = Math.Max(1, chunk.Length / rowLength);
            for (long start = 0; start < total; start += (long)rowsPerChunk * rowLength)
            {
                int n = (int)Math.Min((long)rowsPerChunk * rowLength, total - start);
                var span = chunk.AsSpan(0, n);
                source.Read(binding.Name, start, span);
                if (NonFinite(span, start) is { } bad)
                    found[binding.Name] = found.TryGetValue(binding.Name, out var earlier) ? earlier with { Count = earlier.Count + bad.Count } : bad;
                if (role != "W_dec") continue;
                long firstRow = start / rowLength;
                for (int r = 0; r < n / rowLength; r++)
                {
                    var row = span.Slice(r * rowLength, rowLength);
                    if (!binding.Transposed) sumSquares[firstRow + r] += TensorPrimitives.SumOfSquares(row);
                    else for (int j = 0; j < rowLength; j++) sumSquares[j] += (double)row[j] * row[j];
                }
            }
        }
        return new CheckpointScan(SummaryStats.Of(sumSquares.Select(s => (float)Math.Sqrt(s))), found);
    }

    /// <summary>
    /// A feature-choice or mutual-choice SAE without inference thresholds is encoded with its training-time batch
    /// selection (each latent's top m of the batch; the top k·B of the batch): a token's code then depends on the other
    /// tokens of its batch and on the batch size, so its numbers are not those of the SAE at inference.
    /// </summary>
    internal static void WarnBatchSelection(CheckpointPlan plan, List<string> warnings)
    {
        if (plan.Architecture is not (Autoencoders.SaeArchitectures.FeatureChoice or Autoencoders.SaeArchitectures.MutualChoice)) return;
        if (plan.Threshold is not null || plan.ScalarThreshold is not null) return;
        string selection = plan.Architecture == Autoencoders.SaeArchitectures.FeatureChoice
            ? "each latent keeps its top ⌈k·B/F⌉ activations of the batch"
            : "the batch keeps its top k·B activations";
        warnings.Add($"{plan.Architecture} without inference thresholds: encoded with batch selection ({selection}), so a token's code " +
                     "depends on the other tokens of its batch and on the batch size; save the thresholds with the checkpoint to evaluate it as used at inference");
    }

    private static void JudgeScalarThreshold(CheckpointPlan plan, LoadOptions options, List<string> warnings)
    {
        if (plan.ScalarThreshold is not { } st || float.IsFinite(st)) return;
        if (!options.AllowNonFinite)
            throw new CheckpointFormatException(plan.Source.File, "threshold", $"threshold is {st}; refusing to load (allow with --allow-non-finite)");
        warnings.Add($"threshold: the scalar threshold is {st}");
    }

    private static CheckpointInfo BuildInfo(CheckpointPlan plan, int dIn, int dSae, float[]? threshold, CheckpointDigest? digest,
        List<string> warnings, InspectScan scan, long? bytesRead) => new()
    {
        Path = plan.Layout.Path,
        Format = plan.Layout.Format,
        FormatVersion = plan.FormatVersion,
        Architecture = plan.Architecture,
        ArchitectureName = plan.Config.ArchitectureName,
        DIn = dIn,
        DSae = dSae,
        Dtype = plan.Config.Dtype,
        K = plan.K,
        ScalarThreshold = plan.ScalarThreshold,
        Threshold = threshold is null ? null : SummaryStats.Of(threshold),
        DecoderNorms = digest?.Scan?.DecoderNorms,
        ApplyBDecToInput = plan.ApplyBDecToInput,
        InputScale = plan.InputScale,
        ModelName = plan.Config.ModelName,
        HookName = plan.Config.HookName,
        GroupSizes = plan.GroupSizes,
        Files = plan.Layout.IdentityFiles.Concat(plan.Layout.ExtraFiles).ToList(),
        Sha256 = digest?.Sha256,
        NonFinite = digest?.Scan?.NonFinite.ToDictionary(p => p.Key, p => p.Value.Count) ?? new Dictionary<string, long>(),
        Scan = scan,
        BytesRead = bytesRead,
        Warnings = warnings,
    };

    /// <summary>Checks presence, rank and agreement of all shapes; returns (d_in, d_sae).</summary>
    public static (int DIn, int DSae) CheckShapes(CheckpointPlan plan)
    {
        var source = plan.Source;
        string file = source.File;

        TensorDescription Describe(TensorBinding b)
        {
            if (!source.TryDescribe(b.Name, out var d))
                throw new CheckpointFormatException(file, b.Name, $"required tensor is missing for a {plan.Architecture} SAE");
            return d;
        }

        var wEnc = Describe(plan.WEnc);
        if (wEnc.Shape.Count != 2) throw new CheckpointFormatException(file, plan.WEnc.Name, $"expected a matrix, found shape {wEnc.ShapeText}");
        long dIn = plan.WEnc.Transposed ? wEnc.Shape[1] : wEnc.Shape[0];
        long dSae = plan.WEnc.Transposed ? wEnc.Shape[0] : wEnc.Shape[1];
        if (dIn <= 0 || dSae <= 0 || dIn > int.MaxValue || dSae > int.MaxValue || dIn * dSae > Array.MaxLength)
            throw new CheckpointFormatException(file, plan.WEnc.Name, $"shape {wEnc.ShapeText} is empty or too large");
        if (plan.DIn is { } cfgIn && cfgIn != dIn)
            throw new CheckpointFormatException(file, plan.WEnc.Name, $"shape {wEnc.ShapeText} gives d_in = {dIn}, but {plan.WidthSource} says d_in = {cfgIn}");
        if (plan.DSae is { } cfgSae && cfgSae != dSae)
            throw new CheckpointFormatException(file, plan.WEnc.Name, $"shape {wEnc.ShapeText} gives d_sae = {dSae}, but {plan.WidthSource} says d_sae = {cfgSae}");

        void Expect(TensorBinding? b, params long[] ours)
        {
            if (b is null) return;
            var d = Describe(b);
            var expected = b.Transposed ? ours.Reverse().ToArray() : ours;
            if (!d.Shape.SequenceEqual(expected))
                throw new CheckpointFormatException(file, b.Name,
                    $"shape {d.ShapeText} disagrees with {plan.WEnc.Name} {wEnc.ShapeText}: expected [{string.Join(", ", expected)}] (d_in = {dIn}, d_sae = {dSae})");
        }

        Expect(plan.WDec, dSae, dIn);
        Expect(plan.BEnc, dSae);
        Expect(plan.BDec, dIn);
        Expect(plan.Threshold, dSae);
        Expect(plan.BGate, dSae);
        Expect(plan.RMag, dSae);
        Expect(plan.BMag, dSae);
        if (plan.BEnc is null && plan.Architecture != SaeArchitectures.Gated)
            throw new CheckpointFormatException(file, "b_enc", $"required tensor is missing for a {plan.Architecture} SAE");
        try
        {
            Autoencoders.Sae.ValidateSettings(plan.Architecture, (int)dIn, (int)dSae, plan.K, plan.Threshold is not null, plan.ScalarThreshold,
                plan.BGate is not null && plan.RMag is not null && plan.BMag is not null, plan.GroupSizes, plan.InputScale);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointFormatException(plan.Layout.ConfigFile ?? file, null, e.Message);
        }
        return ((int)dIn, (int)dSae);
    }

    /// <summary>How many of <paramref name="values"/> are NaN or ±Inf and where the first is (offset + index); null when none.</summary>
    private static NonFiniteCount? NonFinite(ReadOnlySpan<float> values, long offset)
    {
        int bad = 0, first = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            bad++;
            if (first < 0) first = i;
        }
        return bad == 0 ? null : new NonFiniteCount(bad, offset + first);
    }

    /// <summary>Refuses the checkpoint for non-finite values unless they are allowed, in which case it warns.</summary>
    private static void Judge(string file, string name, NonFiniteCount bad, LoadOptions options, List<string> warnings)
    {
        if (!options.AllowNonFinite)
            throw new CheckpointFormatException(file, name,
                $"holds non-finite values (NaN or ±Inf), the first at element {bad.FirstElement}; refusing to load (allow with --allow-non-finite)");
        warnings.Add($"{name}: holds {bad.Count} non-finite values (NaN or ±Inf), the first at element {bad.FirstElement}; loaded because non-finite weights were allowed");
    }

    /// <summary>Counts the bytes of tensor data read through it (element count × storage element size).</summary>
    private sealed class CountingTensorSource(ITensorSource inner) : ITensorSource
    {
        public long BytesRead { get; private set; }
        public string File => inner.File;
        public bool TryDescribe(string name, out TensorDescription description) => inner.TryDescribe(name, out description);

        public void Read(string name, long elementOffset, Span<float> destination)
        {
            inner.Read(name, elementOffset, destination);
            if (inner.TryDescribe(name, out var d)) BytesRead += destination.Length * (long)d.ElementBytes;
        }
    }
}
