using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Common;

namespace SaeBench.Models.Synthetic;

public enum FeatureKind
{
    Parent,
    Child,
    GroupMember,
    Independent,
}

/// <summary>
/// One true feature. <paramref name="FiringProbability"/> is conditional: on the parent firing for a child, on the
/// group firing for a group member, unconditional otherwise. <paramref name="Parent"/> and <paramref name="Group"/> are −1 when not applicable.
/// </summary>
public sealed record SyntheticFeature(int Id, FeatureKind Kind, int Parent, int Group, double FiringProbability, double MagnitudeScale);

/// <summary>
/// A world whose activations are sparse sums of known unit directions in superposition (many more features than
/// dimensions) plus Gaussian noise: <c>x = Σ_i c_i d_i + ε</c>. Everything is a pure function of the configuration:
/// example e of a split is generated from its own random stream, so any example can be produced on demand, in any
/// order, with the same bytes. Classes are the parents plus "none": an example's class is its firing parent of largest
/// magnitude. The linear readout <c>logit_p = scale · ⟨x, d_p⟩</c>, <c>logit_none = scale · threshold</c> gives logits.
/// </summary>
public sealed class SyntheticWorld : IModelUnderStudy, IDownstreamLoss, ILabelledTasks, IGroundTruthFeatures
{
    public const string ModelId = "synthetic";
    public const string Hook = "synthetic.x";
    public const string CodeVersion = "synthetic-world-1";

    private readonly double[] _groupRate;
    private readonly HostMatrix _readout; // [classes, d]
    private readonly float[] _readoutBias;
    private readonly IGemm _gemm;
    private readonly Lazy<ExampleLabels>[] _labels;

    /// <param name="config">Sizes, rates and seed.</param>
    /// <param name="forgetParent">The parent whose examples form the forget set for unlearning.</param>
    public SyntheticWorld(SyntheticWorldConfig config, int forgetParent = 0)
    {
        config.Validate();
        if ((uint)forgetParent >= (uint)config.Parents)
            throw new ArgumentException($"forget_class: parent {forgetParent} does not exist; there are {config.Parents} parents.");
        Config = config;
        _gemm = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed)).Gemm;
        int f = config.Features;
        var rng = new Rng(config.Seed, 1);

        // Units that fire on their own: parents take the top ranks, groups and independent features the rest, shuffled.
        int others = config.CorrelatedGroups + config.IndependentCount;
        var rank = new int[others];
        for (int i = 0; i < others; i++) rank[i] = config.Parents + i;
        rng.Shuffle(rank);
        double Rate(int r) => config.MaxFiringRate * Math.Pow(r + 1, -config.ZipfExponent);

        var magRank = new int[f];
        for (int i = 0; i < f; i++) magRank[i] = i;
        rng.Shuffle(magRank);
        double Mag(int i) => Math.Pow(magRank[i] + 1, -config.MagnitudeExponent);

        _groupRate = new double[config.CorrelatedGroups];
        for (int g = 0; g < _groupRate.Length; g++) _groupRate[g] = Rate(rank[g]);

        var features = new SyntheticFeature[f];
        for (int p = 0; p < config.Parents; p++)
        {
            features[p] = new(p, FeatureKind.Parent, -1, -1, Rate(p), Mag(p));
            for (int j = 0; j < config.ChildrenPerParent; j++)
            {
                int id = config.Parents + p * config.ChildrenPerParent + j;
                features[id] = new(id, FeatureKind.Child, p, -1, config.ChildFiringRate * Math.Pow(j + 1, -config.ZipfExponent), Mag(id));
            }
        }
        for (int g = 0; g < config.CorrelatedGroups; g++)
        for (int k = 0; k < config.GroupSize; k++)
        {
            int id = config.FirstGroupMember + g * config.GroupSize + k;
            features[id] = new(id, FeatureKind.GroupMember, -1, g, config.GroupMemberRate, Mag(id));
        }
        for (int i = 0; i < config.IndependentCount; i++)
        {
            int id = config.FirstIndependent + i;
            features[id] = new(id, FeatureKind.Independent, -1, -1, Rate(rank[config.CorrelatedGroups + i]), Mag(id));
        }
        Features = features;

        var directions = new HostMatrix(f, config.DModel);
        var drng = new Rng(config.Seed, 2);
        for (int i = 0; i < f; i++)
        {
            var row = directions.Row(i);
            double norm = 0;
            for (int c = 0; c < row.Length; c++)
            {
                row[c] = (float)drng.NextGaussian();
                norm += (double)row[c] * row[c];
            }
            float inv = (float)(1 / Math.Sqrt(norm));
            for (int c = 0; c < row.Length; c++) row[c] *= inv;
        }
        Directions = directions;

        int classes = config.Parents + 1;
        _readout = new HostMatrix(classes, config.DModel);
        for (int p = 0; p < config.Parents; p++)
        {
            var src = directions.Row(p);
            var dst = _readout.Row(p);
            for (int c = 0; c < src.Length; c++) dst[c] = (float)(config.ReadoutScale * src[c]);
        }
        _readoutBias = new float[classes];
        _readoutBias[config.Parents] = (float)(config.ReadoutScale * config.NoneThreshold);

        var concepts = new List<Concept>();
        for (int p = 0; p < config.Parents; p++) concepts.Add(new Concept(p, $"parent_{p:D2}", null));
        for (int p = 0; p < config.Parents; p++)
        for (int j = 0; j < config.ChildrenPerParent; j++)
            concepts.Add(new Concept(concepts.Count, $"parent_{p:D2}/child_{j}", p));
        var classNames = Enumerable.Range(0, config.Parents).Select(p => $"parent_{p:D2}").Append("none").ToArray();
        // The spurious attribute (for SCR): which of the two most frequent independent features fires (examples where
        // neither or both fire have none). Two-sided like gender in Bias in Bios, independent of every parent (so every
        // class × attribute combination occurs), and with no children or group partners to leak it.
        SpuriousFeatures = config.IndependentCount < 2 ? []
            : Enumerable.Range(config.FirstIndependent, config.IndependentCount)
                .OrderByDescending(i => features[i].FiringProbability).ThenByDescending(i => features[i].MagnitudeScale).ThenBy(i => i).Take(2).ToArray();
        Tasks = new TaskCatalog(classNames, new ConceptHierarchy(concepts), forgetParent)
        {
            Attributes = SpuriousFeatures.Count < 2 ? []
                : [new ExampleAttribute(SpuriousAttribute, SpuriousFeatures.Select(i => $"feature_{i}").ToArray())],
        };
        _labels = [new(() => ComputeLabels(Split.Train)), new(() => ComputeLabels(Split.Test))];

        ParentOf = features.Select(x => x.Parent).ToArray();
        string hash = ContentHasher.Of(ModelId, CodeVersion, config.Canonical());
        Info = new ModelInfo(ModelId, Hook, config.DModel, 1, hash,
            $"synthetic world: {f} features in d = {config.DModel}, {config.Parents} parents × {config.ChildrenPerParent} children, " +
            $"{config.CorrelatedGroups} groups of {config.GroupSize}",
            ReadoutAccuracy(Split.Test));
    }

    public SyntheticWorldConfig Config { get; }

    /// <summary>Name of the per-example attribute "which of the two spurious features fires" (values <c>feature_{id}</c>).</summary>
    public const string SpuriousAttribute = "spurious";

    /// <summary>The two features behind the <see cref="SpuriousAttribute"/> attribute: the independent features with the
    /// highest firing rates (empty when the world has fewer than two).</summary>
    public IReadOnlyList<int> SpuriousFeatures { get; }

    /// <summary>A parent given by index or by name (<c>parent_07</c>).</summary>
    public static int ParseParent(SyntheticWorldConfig config, string value, string field)
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        if (int.TryParse(value, System.Globalization.NumberStyles.None, ci, out int i) && i < config.Parents) return i;
        if (value.StartsWith("parent_", StringComparison.Ordinal)
            && int.TryParse(value["parent_".Length..], System.Globalization.NumberStyles.None, ci, out int j) && j < config.Parents)
            return j;
        throw new ArgumentException($"{field}: '{value}' is not a parent of the synthetic world; use 0…{config.Parents - 1} or parent_00…parent_{config.Parents - 1:D2}.");
    }

    public IReadOnlyList<SyntheticFeature> Features { get; }

    public ModelInfo Info { get; }

    public TaskCatalog Tasks { get; }

    public HostMatrix Directions { get; }

    public IReadOnlyList<int> ParentOf { get; }

    public int LogitWidth => _readout.Rows;

    /// <summary>Probability that the group (correlated set of features) <paramref name="group"/> fires.</summary>
    public double GroupFiringRate(int group) => _groupRate[group];

    public int Count(Split split) => split == Split.Train ? Config.TrainExamples : Config.TestExamples;

    public T? Capability<T>() where T : class => this as T;

    /// <summary>
    /// Generates example <paramref name="example"/> of <paramref name="split"/>: its true code (overwritten, length
    /// n_features) and its activation (length d_model). Returns the class label.
    /// </summary>
    public int Generate(Split split, int example, Span<float> code, Span<float> x)
    {
        if ((uint)example >= (uint)Count(split))
            throw new ArgumentOutOfRangeException(nameof(example), $"Example {example} of {Count(split)} in the {split} split.");
        var c = Config;
        code.Clear();
        var rng = new Rng(c.Seed, ((ulong)split + 3) << 40 | (uint)example);
        int label = c.Parents;
        float best = 0;
        for (int p = 0; p < c.Parents; p++)
        {
            if (rng.NextDouble() >= Features[p].FiringProbability) continue;
            code[p] = Magnitude(ref rng, p);
            if (code[p] > best) (best, label) = (code[p], p);
            for (int j = 0; j < c.ChildrenPerParent; j++)
            {
                int id = c.Parents + p * c.ChildrenPerParent + j;
                if (rng.NextDouble() < Features[id].FiringProbability) code[id] = Magnitude(ref rng, id);
            }
        }
        for (int g = 0; g < c.CorrelatedGroups; g++)
        {
            if (rng.NextDouble() >= _groupRate[g]) continue;
            for (int k = 0; k < c.GroupSize; k++)
            {
                int id = c.FirstGroupMember + g * c.GroupSize + k;
                if (rng.NextDouble() < Features[id].FiringProbability) code[id] = Magnitude(ref rng, id);
            }
        }
        for (int id = c.FirstIndependent; id < c.Features; id++)
            if (rng.NextDouble() < Features[id].FiringProbability) code[id] = Magnitude(ref rng, id);

        for (int d = 0; d < x.Length; d++) x[d] = (float)(c.NoiseStd * rng.NextGaussian());
        for (int id = 0; id < code.Length; id++)
        {
            if (code[id] == 0f) continue;
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(Directions.Row(id), code[id], x, x);
        }
        return label;
    }

    private float Magnitude(ref Rng rng, int feature) => (float)(Features[feature].MagnitudeScale * (0.5 + rng.NextDouble()));

    public void TrueCodes(Split split, int firstExample, HostMatrix codes)
    {
        if (codes.Cols != Config.Features) throw new ArgumentException($"Codes need {Config.Features} columns, got {codes.Cols}.");
        Span<float> x = stackalloc float[Config.DModel];
        for (int r = 0; r < codes.Rows; r++) Generate(split, firstExample + r, codes.Row(r), x);
    }

    /// <summary>The linear readout, clean and per replacement; the target is the example's class (its parent, or none).</summary>
    public DownstreamComparison Compare(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements) =>
        LogitStatistics.ForClassifier(batch, replacements, LogitWidth, ForwardFromHook);

    public void ForwardFromHook(HostMatrix hookActivations, HostMatrix logits)
    {
        if (hookActivations.Cols != Config.DModel || logits.Rows != hookActivations.Rows || logits.Cols != LogitWidth)
            throw new ArgumentException(
                $"ForwardFromHook takes [rows, {Config.DModel}] → [rows, {LogitWidth}]; got {hookActivations.Rows}×{hookActivations.Cols} → {logits.Rows}×{logits.Cols}.");
        _gemm.Gemm(hookActivations, false, _readout, true, logits);
        RowOps.AddRowVector(logits.Span, logits.Cols, _readoutBias);
    }

    public IActivationSource Activations(Split split) => new Source(this, split);

    public ExampleLabels Labels(Split split) => _labels[(int)split].Value;

    private ExampleLabels ComputeLabels(Split split)
    {
        int n = Count(split), concepts = Tasks.Hierarchy.Count, words = (concepts + 63) / 64;
        var classes = new int[n];
        var bits = new ulong[(long)n * words];
        var code = new float[Config.Features];
        var spurious = new int[n];
        Span<float> x = stackalloc float[Config.DModel];
        for (int e = 0; e < n; e++)
        {
            classes[e] = Generate(split, e, code, x);
            for (int k = 0; k < concepts; k++) // concept ids = feature ids of parents and children
                if (code[k] != 0f) bits[(long)e * words + k / 64] |= 1UL << (k % 64);
            if (SpuriousFeatures.Count == 2)
            {
                bool a = code[SpuriousFeatures[0]] != 0f, b = code[SpuriousFeatures[1]] != 0f;
                spurious[e] = a == b ? -1 : a ? 0 : 1;
            }
        }
        return new ExampleLabels(classes, concepts, bits,
            SpuriousFeatures.Count < 2 ? null : new Dictionary<string, int[]> { [SpuriousAttribute] = spurious });
    }

    private double ReadoutAccuracy(Split split)
    {
        int correct = 0, n = Count(split);
        foreach (var batch in Activations(split).Batches(4096))
        {
            using (batch)
            {
                using var logits = new HostMatrix(batch.Rows, LogitWidth);
                ForwardFromHook(batch.Activations, logits);
                for (int r = 0; r < batch.Rows; r++)
                {
                    var row = logits.Row(r);
                    int arg = 0;
                    for (int k = 1; k < row.Length; k++) if (row[k] > row[arg]) arg = k;
                    if (arg == batch.Label[r]) correct++;
                }
            }
        }
        return (double)correct / n;
    }

    private sealed class Source(SyntheticWorld world, Split split) : IActivationSource
    {
        public ActivationShape Shape { get; } = new(world.Count(split), 1, world.Config.DModel);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
        {
            var code = new float[world.Config.Features];
            foreach (var (first, count) in BatchPlan.Of(Shape, maxRows, examples))
            {
                var x = HostMatrix.Rent(count, Shape.DModel, clear: false);
                var labels = new int[count];
                for (int r = 0; r < count; r++) labels[r] = world.Generate(split, first + r, code, x.Row(r));
                yield return ActivationBatch.ForExamples(split, x, first, 1, labels);
            }
        }
    }
}
