using System.Text.Json.Nodes;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.ScrTpp;

/// <summary>
/// Spurious correlation removal (SAEBench's <c>scr</c>): a probe trained where the class and a second attribute always
/// agree leans on both; ablating the SAE latents that a probe for the second attribute attributes to it should leave the
/// biased probe reading the class alone. The score is the fraction of the gap to a probe trained without the bias that
/// the ablation closes. See README.md.
/// </summary>
public sealed class ScrEvaluator : Evaluator<ScrOptions>
{
    private const string Salt = "scr";

    /// <summary>The key of the model's own labels in <see cref="ScrOptions.Column1ValsLookup"/>.</summary>
    public const string ClassesKey = "classes";

    public override EvaluatorInfo Info { get; } = new("scr", "Spurious correlation removal",
        "Ablates the latents attributed to a spurious attribute and measures how much of a biased probe's gap to an unbiased one closes.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, ScrOptions options)
    {
        if (options.DatasetNames.Count > 0 || options.Datasets.Count > 0) return new Job(context, options, TextRuns(context, options));
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why))
            throw new NotApplicableException(context.Model.Capability<ITextModel>() is not null
                ? $"model '{context.Model.Info.Id}' is a language model: give scr dataset_names (with data_directory) or datasets with two label fields"
                : why);
        return new Job(context, options, [ClassRuns(context, options, tasks)]);
    }

    /// <summary>One dataset's SCR runs: its examples and the (column-1 pair, column-2 pair) of each run.</summary>
    internal sealed record DatasetRuns(Func<ProbeDataset> Load, string Name, IReadOnlyList<(string Pos1, string Neg1, string Label1, string Label2)> Pairs,
        (string Pos2, string Neg2) Column2);

    private static DatasetRuns ClassRuns(EvaluationContext context, ScrOptions options, ILabelledTasks tasks)
    {
        var catalog = tasks.Tasks;
        var attribute = options.SpuriousAttribute is { } name
            ? catalog.Attributes.FirstOrDefault(a => a.Name == name)
              ?? throw new NotApplicableException($"model '{context.Model.Info.Id}' has no attribute '{name}' (it has: {Names(catalog.Attributes)})")
            : catalog.Attributes.FirstOrDefault()
              ?? throw new NotApplicableException($"model '{context.Model.Info.Id}' has no per-example attribute besides its class; SCR needs a second (spurious) attribute");
        if (attribute.Values.Count < 2)
            throw new NotApplicableException($"attribute '{attribute.Name}' has {attribute.Values.Count} value(s); SCR needs two");
        var values = options.SpuriousValues.Count == 2 ? options.SpuriousValues : attribute.Values.Take(2).ToList();
        foreach (var v in values.Where(v => !attribute.Values.Contains(v)))
            throw new Core.Configuration.ConfigException($"scr: spurious_values: '{v}' is not a value of attribute '{attribute.Name}' ({string.Join(", ", attribute.Values)})");

        var pairs = options.Column1ValsLookup.TryGetValue(ClassesKey, out var given)
            ? given.Select(p => (p[0], p[1])).ToList()
            : DefaultClassPairs(catalog);
        foreach (var (a, b) in pairs)
            foreach (var c in new[] { a, b }.Where(c => !catalog.ClassNames.Contains(c)))
                throw new Core.Configuration.ConfigException($"scr: column1_vals_lookup.{ClassesKey}: '{c}' is not a class of model '{context.Model.Info.Id}' ({string.Join(", ", catalog.ClassNames)})");
        if (pairs.Count == 0) throw new NotApplicableException($"model '{context.Model.Info.Id}' has fewer than two classes");

        ProbeDataset Load()
        {
            string?[] Classes(Split s) => tasks.Labels(s).Classes.ToArray().Select(c => c >= 0 && c < catalog.ClassNames.Count ? catalog.ClassNames[c] : null).ToArray();
            string?[] Attribute(Split s) => tasks.Labels(s).Attribute(attribute.Name).ToArray().Select(v => v >= 0 && v < attribute.Values.Count ? attribute.Values[v] : null).ToArray();
            return new ProbeDataset($"{context.Model.Info.Id}/{ClassesKey}", Classes(Split.Train), Attribute(Split.Train), Classes(Split.Test), Attribute(Split.Test),
                (split, ids, ct) => ExampleEncoding.EncodePooled(context, split, ids, latents: true, activations: true, ct));
        }
        return new DatasetRuns(Load, $"{context.Model.Info.Id}/{ClassesKey}", pairs.Select(p => (p.Item1, p.Item2, p.Item1, p.Item2)).ToList(), (values[0], values[1]));
    }

    /// <summary>
    /// A classifier's default pairs: classes that share a parent concept first (the confusable ones, where a second
    /// attribute can matter), paired in class order, then the remaining classes in order; at most four pairs (SAEBench
    /// runs four per dataset).
    /// </summary>
    public static List<(string, string)> DefaultClassPairs(TaskCatalog catalog)
    {
        var names = catalog.ClassNames;
        int? ParentOf(int c) => catalog.Hierarchy.Find(names[c]) is { } id ? catalog.Hierarchy.Concepts[id].ParentId : null;
        var used = new bool[names.Count];
        var pairs = new List<(string, string)>();
        foreach (var group in Enumerable.Range(0, names.Count).Where(c => ParentOf(c) is not null).GroupBy(c => ParentOf(c)!.Value).OrderBy(g => g.Min()))
        {
            var members = group.Order().ToList();
            for (int i = 0; i + 1 < members.Count; i += 2)
            {
                pairs.Add((names[members[i]], names[members[i + 1]]));
                used[members[i]] = used[members[i + 1]] = true;
            }
        }
        var rest = Enumerable.Range(0, names.Count).Where(c => !used[c]).ToList();
        for (int i = 0; i + 1 < rest.Count; i += 2) pairs.Add((names[rest[i]], names[rest[i + 1]]));
        return pairs.Take(4).ToList();
    }

    private static IReadOnlyList<DatasetRuns> TextRuns(EvaluationContext context, ScrOptions options)
    {
        if (!context.Model.TryGet<ITextModel>(out var text, out var why)) throw new NotApplicableException(why + "; text datasets need a language model");
        if (!context.Model.TryGet<ILabelledTextSource>(out var files, out why)) throw new NotApplicableException(why);
        int seed = Sampling.Derive(context.Seed, Salt);
        var runs = new List<DatasetRuns>();
        foreach (var name in options.DatasetNames)
        {
            var known = AttributeTextDatasets.Find(name)!;
            var pairs = options.Column1ValsLookup.TryGetValue(name, out var given) ? given.Select(p => (p[0], p[1])).ToList() : known.Pairs.ToList();
            runs.Add(new DatasetRuns(
                () => TextDataset(context, options, text, files, name, AttributeTextDatasets.PathOf(options.DataDirectory, name), null,
                    known.TextField, known.Column1Field, known.Column2Field, "split", seed),
                name, pairs.Select(p => (AttributeTextDatasets.Code(known.Column1Codes, p.Item1), AttributeTextDatasets.Code(known.Column1Codes, p.Item2), p.Item1, p.Item2)).ToList(),
                (known.Column2Values[0], known.Column2Values[1])));
        }
        foreach (var d in options.Datasets)
        {
            List<(string, string)> pairs;
            if (options.Column1ValsLookup.TryGetValue(d.Name, out var given)) pairs = given.Select(p => (p[0], p[1])).ToList();
            else if (d.Classes.Count >= 2) pairs = Enumerable.Range(0, d.Classes.Count / 2).Select(i => (d.Classes[2 * i], d.Classes[2 * i + 1])).Take(4).ToList();
            else throw new Core.Configuration.ConfigException($"scr: dataset '{d.Name}': give its column-1 pairs in column1_vals_lookup (or classes to pair in order).");
            runs.Add(new DatasetRuns(
                () => TextDataset(context, options, text, files, d.Name, d.Path, d.TestPath, d.TextField, d.Column1Field, d.Column2Field!, d.SplitField, seed),
                d.Name, pairs.Select(p => (p.Item1, p.Item2, p.Item1, p.Item2)).ToList(), (d.Column2Values[0], d.Column2Values[1])));
        }
        return runs;
    }

    internal static ProbeDataset TextDataset(EvaluationContext context, ScrTppOptions options, ITextModel text, ILabelledTextSource files, string name,
        string path, string? testPath, string textField, string column1, string? column2, string? splitField, int seed)
    {
        var data = AttributeTexts.Load(files, path, testPath, textField, column1, column2, splitField, seed);
        PooledExamples Encode(Split split, int[] ids, CancellationToken ct)
        {
            var texts = split == Split.Train ? data.TrainTexts : data.TestTexts;
            var pooled = TextExamples.EncodePooled(context, text, ids.Select(i => texts[i]).ToList(), options.ContextLength, ct);
            return new PooledExamples(ids, pooled.Latents, pooled.Activations);
        }
        return new ProbeDataset(name, data.TrainColumn1, data.TrainColumn2, data.TestColumn1, data.TestColumn2, Encode);
    }

    private static string Names(IEnumerable<ExampleAttribute> attributes) =>
        attributes.Any() ? string.Join(", ", attributes.Select(a => a.Name)) : "none";

    /// <summary>The six probe sets of one SCR run in one split (SAEBench's <c>get_spurious_corr_data</c>).</summary>
    /// <param name="Spurious">"male / female": column-2 positives of both classes vs column-2 negatives.</param>
    /// <param name="Target">"professor / nurse": column-1 positives of both column-2 values vs column-1 negatives.</param>
    /// <param name="Biased">"male_professor / female_nurse": pos₁∧pos₂ vs neg₁∧neg₂.</param>
    public sealed record ScrSets(ProbeSet Spurious, ProbeSet Target, ProbeSet Biased, int[] Quadrants)
    {
        public IEnumerable<int> Examples => Spurious.All.Concat(Target.All).Concat(Biased.All);
    }

    /// <summary>
    /// Quadrants pos₁∧pos₂, pos₁∧neg₂, neg₁∧pos₂, neg₁∧neg₂ of a split, each in a seeded random order; q = size/4 examples
    /// of each (2q of the two concordant ones, which alone make the biased probe's data) → every set has 2q positives and
    /// 2q negatives when the quadrants are large enough, fewer otherwise.
    /// </summary>
    public static ScrSets Sets(string?[] column1, string?[] column2, string pos1, string neg1, string pos2, string neg2, int size, Random rng)
    {
        int q = size / 4;
        int[] Quadrant(string a, string b, int take)
        {
            var pool = Enumerable.Range(0, column1.Length)
                .Where(e => AttributeTextDatasets.Same(column1[e], a) && AttributeTextDatasets.Same(column2[e], b)).ToArray();
            int k = Math.Min(take, pool.Length);
            for (int i = 0; i < k; i++)
            {
                int j = i + rng.Next(pool.Length - i);
                (pool[i], pool[j]) = (pool[j], pool[i]);
            }
            return pool[..k];
        }
        var pp = Quadrant(pos1, pos2, 2 * q);
        var pn = Quadrant(pos1, neg2, q);
        var np = Quadrant(neg1, pos2, q);
        var nn = Quadrant(neg1, neg2, 2 * q);
        int[] Head(int[] a) => a[..Math.Min(q, a.Length)];
        return new ScrSets(
            new ProbeSet([.. Head(pp), .. np], [.. pn, .. Head(nn)]),
            new ProbeSet([.. Head(pp), .. pn], [.. np, .. Head(nn)]),
            new ProbeSet(pp, nn),
            [pp.Length, pn.Length, np.Length, nn.Length]);
    }

    /// <summary>SAEBench's SCR score: (changed − original) / (clean − original); undefined (null) when the biased probe is
    /// not at least 0.001 worse than the unbiased one (SAEBench writes 0 there).</summary>
    public static double? Score(double changed, double original, double clean) =>
        clean - original < 0.001 ? null : (changed - original) / (clean - original);

    private sealed class Job(EvaluationContext context, ScrOptions options, IReadOnlyList<DatasetRuns> datasets) : IEvaluationJob
    {
        public void Observe(SaeBatch batch) { }

        public EvalResult Complete(CancellationToken cancellation)
        {
            int seed = Sampling.Derive(context.Seed, Salt);
            var n = options.NValues;
            var details = new List<JsonObject>();
            var runs = new JsonArray();
            var perRun = new List<(double?[] Dir1, double?[] Metric, double?[] Dir2)>();
            foreach (var spec in datasets)
            {
                cancellation.ThrowIfCancellationRequested();
                var data = spec.Load();
                var plans = spec.Pairs.Select(p => (Pair: p,
                    Train: Sets(data.TrainColumn1, data.TrainColumn2, p.Pos1, p.Neg1, spec.Column2.Pos2, spec.Column2.Neg2, options.TrainSetSize,
                        new Random(ScrTppProcedure.Seed(seed, $"{spec.Name}/{p.Label1}/{p.Label2}/train"))),
                    Test: Sets(data.TestColumn1, data.TestColumn2, p.Pos1, p.Neg1, spec.Column2.Pos2, spec.Column2.Neg2, options.TestSetSize,
                        new Random(ScrTppProcedure.Seed(seed, $"{spec.Name}/{p.Label1}/{p.Label2}/test"))))).ToList();
                var trainIds = plans.SelectMany(p => p.Train.Examples).Distinct().Order().ToArray();
                var testIds = plans.SelectMany(p => p.Test.Examples).Distinct().Order().ToArray();
                var train = data.Encode(Split.Train, trainIds, cancellation);
                var test = data.Encode(Split.Test, testIds, cancellation);
                foreach (var plan in plans)
                {
                    cancellation.ThrowIfCancellationRequested();
                    string runName = $"{spec.Name}_scr_{plan.Pair.Label1}_{plan.Pair.Label2}";
                    var run = new JsonObject
                    {
                        ["dataset_name"] = runName + "_results",
                        ["train_quadrants"] = Quadrants(plan.Train.Quadrants),
                        ["test_quadrants"] = Quadrants(plan.Test.Quadrants),
                    };
                    runs.Add(run);
                    var sets = new[] { plan.Train.Spurious, plan.Train.Target, plan.Train.Biased, plan.Test.Spurious, plan.Test.Target, plan.Test.Biased };
                    if (sets.Any(s => !s.Usable))
                    {
                        run["skipped"] = "a probe set has no positives or no negatives (empty quadrant)";
                        continue;
                    }
                    var result = RunPair(runName, plan.Train, plan.Test, train, test, seed, run, cancellation);
                    perRun.Add(result);
                    var detail = new JsonObject { ["dataset_name"] = runName + "_results" };
                    for (int i = 0; i < n.Length; i++)
                    {
                        detail[$"scr_dir1_threshold_{n[i]}"] = result.Dir1[i];
                        detail[$"scr_metric_threshold_{n[i]}"] = result.Metric[i];
                        detail[$"scr_dir2_threshold_{n[i]}"] = result.Dir2[i];
                    }
                    details.Add(detail);
                }
            }
            var metrics = new List<MetricValue>();
            for (int i = 0; i < n.Length; i++)
            {
                int k = i;
                metrics.Add(new(ScrMetrics.Dir1(n[i]), ScrTppProcedure.Mean(perRun.Select(r => r.Dir1[k]))));
                metrics.Add(new(ScrMetrics.Metric(n[i]), ScrTppProcedure.Mean(perRun.Select(r => r.Metric[k]))));
                metrics.Add(new(ScrMetrics.Dir2(n[i]), ScrTppProcedure.Mean(perRun.Select(r => r.Dir2[k]))));
            }
            var unstructured = new JsonObject { ["runs"] = runs };
            if (perRun.Count == 0) unstructured["status"] = "no run had all four quadrants populated in both splits";
            return new EvalResult(metrics, details, unstructured);
        }

        private static JsonArray Quadrants(int[] q) => new(q.Select(v => (JsonNode)v).ToArray());

        /// <summary>One SCR run: the three probes, their clean accuracies, attribution and the two ablation directions.</summary>
        private (double?[] Dir1, double?[] Metric, double?[] Dir2) RunPair(string runName, ScrSets trainSets, ScrSets testSets,
            PooledExamples train, PooledExamples test, int seed, JsonObject run, CancellationToken cancellation)
        {
            var probe = options.Probe;
            var spurious = ScrTppProcedure.TrainProbe(train, trainSets.Spurious, probe, ScrTppProcedure.Seed(seed, runName + "/spurious_probe"));
            var target = ScrTppProcedure.TrainProbe(train, trainSets.Target, probe, ScrTppProcedure.Seed(seed, runName + "/target_probe"));
            var biased = ScrTppProcedure.TrainProbe(train, trainSets.Biased, probe, ScrTppProcedure.Seed(seed, runName + "/biased_probe"));
            cancellation.ThrowIfCancellationRequested();

            double targetClean = ScrTppProcedure.Accuracy(target, test, testSets.Target);
            double spuriousClean = ScrTppProcedure.Accuracy(spurious, test, testSets.Spurious);
            double dir1Acc = ScrTppProcedure.Accuracy(biased, test, testSets.Target);   // biased probe on column-1 data
            double dir2Acc = ScrTppProcedure.Accuracy(biased, test, testSets.Spurious); // biased probe on column-2 data
            run["target_probe_accuracy"] = targetClean;
            run["spurious_probe_accuracy"] = spuriousClean;
            run["biased_probe_accuracy_on_target"] = dir1Acc;
            run["biased_probe_accuracy_on_spurious"] = dir2Acc;
            run["biased_probe_accuracy"] = ScrTppProcedure.Accuracy(biased, test, testSets.Biased);

            var sae = context.Sae;
            // Direction 1: ablate what the spurious probe reads, judge the biased probe on the target concept.
            var rank1 = ScrTppProcedure.Ranking(ScrTppProcedure.Effects(sae, train, trainSets.Spurious, spurious, tpp: false));
            var targetIds = testSets.Target.All;
            var targetLabels = testSets.Target.Labels;
            var changed1 = ScrTppProcedure.AblationSweep(sae, test, targetIds, rank1, options.NValues, (_, x) => biased.Accuracy(x, targetLabels), cancellation);
            // Direction 2: ablate what the target probe reads, judge the biased probe on the spurious attribute.
            var rank2 = ScrTppProcedure.Ranking(ScrTppProcedure.Effects(sae, train, trainSets.Target, target, tpp: false));
            var spuriousIds = testSets.Spurious.All;
            var spuriousLabels = testSets.Spurious.Labels;
            var changed2 = ScrTppProcedure.AblationSweep(sae, test, spuriousIds, rank2, options.NValues, (_, x) => biased.Accuracy(x, spuriousLabels), cancellation);

            var n = options.NValues;
            var dir1 = changed1.Select(c => c is { } v ? Score(v, dir1Acc, targetClean) : null).ToArray();
            var dir2 = changed2.Select(c => c is { } v ? Score(v, dir2Acc, spuriousClean) : null).ToArray();
            // SAEBench reports the direction in which the biased probe was worse before ablation; a tie leaves it unset.
            var metric = dir1Acc < dir2Acc ? dir1 : dir1Acc > dir2Acc ? dir2 : new double?[n.Length];
            run["nonzero_effect_latents_dir1"] = rank1.Length;
            run["nonzero_effect_latents_dir2"] = rank2.Length;
            var changed = new JsonObject();
            for (int i = 0; i < n.Length; i++)
                changed[n[i].ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject { ["dir1"] = changed1[i], ["dir2"] = changed2[i] };
            run["ablated_biased_probe_accuracy"] = changed;
            return (dir1, metric, dir2);
        }
    }
}

/// <summary>Descriptors of the SCR metrics (SAEBench's category and names).</summary>
public static class ScrMetrics
{
    public const string Category = "scr_metrics";

    public static MetricDescriptor Metric(int n) => new(Category, $"scr_metric_threshold_{n}", $"SCR metric (top {n} latents)", "ratio", true);
    public static MetricDescriptor Dir1(int n) => new(Category, $"scr_dir1_threshold_{n}", $"SCR dir 1: spurious latents ablated (top {n})", "ratio", true);
    public static MetricDescriptor Dir2(int n) => new(Category, $"scr_dir2_threshold_{n}", $"SCR dir 2: class latents ablated (top {n})", "ratio", true);
}
