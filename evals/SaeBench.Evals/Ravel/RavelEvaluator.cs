using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Training.Optimization;

namespace SaeBench.Evals.Ravel;

/// <summary>Options of the <c>ravel</c> evaluator (see README.md).</summary>
public sealed record RavelOptions : EvaluatorOptions
{
    /// <summary>The folder holding RAVEL's files (<c>ravel_{entity}_attribute_to_prompts.json</c>, <c>ravel_{entity}_entity_attributes.json</c>);
    /// relative to the run configuration's folder. Null: the evaluation is not applicable.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Entity type → attributes (SAEBench's default: city: Country, Continent, Language; nobel_prize_winner:
    /// Country of Birth, Field, Gender).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> EntityAttributeSelection { get; init; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["city"] = ["Country", "Continent", "Language"],
        ["nobel_prize_winner"] = ["Country of Birth", "Field", "Gender"],
    };

    /// <summary>Entities with the most correctly completed prompts that are kept (SAEBench 500).</summary>
    public int TopNEntities { get; init; } = 500;

    /// <summary>A seeded sample of this many prompts per entity type before generation (SAEBench's downsample); null = all.</summary>
    public int? FullDatasetDownsample { get; init; }

    /// <summary>Base prompts sampled per attribute for cause pairs, and per other attribute for isolation pairs (SAEBench 5000).</summary>
    public int NumPairsPerAttribute { get; init; } = 5000;

    /// <summary>Fraction of the shuffled pairs used to train the mask; the rest is scored (SAEBench 0.7).</summary>
    public double TrainTestSplit { get; init; } = 0.7;

    /// <summary>Pairs per mask-training step and per scoring batch. SAEBench's command line uses 8 on gemma-2-2b (its config
    /// default of 2048 would leave a handful of steps).</summary>
    public int LlmBatchSize { get; init; } = 8;

    /// <summary>Adam's learning rate on the mask (SAEBench 1e-3).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Passes over the training pairs (SAEBench 2).</summary>
    public int NumEpochs { get; init; } = 2;

    /// <summary>Greedy tokens generated per prompt, to judge it and to score interventions (SAEBench 6).</summary>
    public int NGeneratedTokens { get; init; } = 6;

    public override IEnumerable<string> Validate()
    {
        if (EntityAttributeSelection is null || EntityAttributeSelection.Count == 0) yield return "entity_attribute_selection: give at least one entity type.";
        else
            foreach (var (entity, attributes) in EntityAttributeSelection)
            {
                if (string.IsNullOrWhiteSpace(entity) || entity.IndexOfAny(['/', '\\']) >= 0) yield return $"entity_attribute_selection: '{entity}' is not an entity type name.";
                if (attributes is null || attributes.Count < 2) yield return $"entity_attribute_selection: '{entity}' needs at least two attributes (isolation pairs come from the others).";
                else if (attributes.Distinct().Count() != attributes.Count) yield return $"entity_attribute_selection: '{entity}' lists an attribute twice.";
            }
        if (TopNEntities < 1) yield return $"top_n_entities: {TopNEntities} must be ≥ 1.";
        if (FullDatasetDownsample is < 1) yield return $"full_dataset_downsample: {FullDatasetDownsample} must be ≥ 1 (or null for all).";
        if (NumPairsPerAttribute < 1) yield return $"num_pairs_per_attribute: {NumPairsPerAttribute} must be ≥ 1.";
        if (!(TrainTestSplit > 0 && TrainTestSplit < 1)) yield return $"train_test_split: {TrainTestSplit} must be in (0, 1).";
        if (LlmBatchSize < 1) yield return $"llm_batch_size: {LlmBatchSize} must be ≥ 1.";
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) yield return $"learning_rate: {LearningRate} must be > 0.";
        if (NumEpochs < 1) yield return $"num_epochs: {NumEpochs} must be ≥ 1.";
        if (NGeneratedTokens < 1) yield return $"n_generated_tokens: {NGeneratedTokens} must be ≥ 1.";
    }
}

/// <summary>
/// RAVEL (METRICS.md <c>ravel</c>): how well swapping a learned set of SAE latents at an entity's last token moves one of
/// its attributes (cause) and leaves the others alone (isolation), with SAEBench's MDBM mask.
/// </summary>
public sealed class RavelEvaluator : Evaluator<RavelOptions>
{
    /// <summary>Mixed into the run seed so this evaluator's draws differ from other evaluators'.</summary>
    public const int SeedSalt = 0x7261766C; // "ravl"

    public override EvaluatorInfo Info { get; } = new("ravel", "RAVEL",
        "Trains a mask over latents whose swap at an entity's last token changes one attribute (cause) and keeps the others (isolation); language models with local RAVEL files.",
        Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, RavelOptions options)
    {
        if (!context.Model.TryGet<ITextModel>(out var text, out var why)) throw new NotApplicableException(why + "; RAVEL needs a language model and RAVEL's prompt files");
        if (options.DataDirectory is null)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' is a language model: give ravel data_directory, the folder holding RAVEL's ravel_{{entity}}_attribute_to_prompts.json and ravel_{{entity}}_entity_attributes.json files (no downloads)");
        if (!context.Model.TryGet<ILabelledTextSource>(out var files, out why)) throw new NotApplicableException(why);
        var data = new List<RavelEntityData>();
        var skipped = new List<string>();
        foreach (var (entity, attributes) in options.EntityAttributeSelection)
        {
            if (RavelData.Load(files, options.DataDirectory, entity, attributes, out var reason) is { } d) data.Add(d);
            else skipped.Add(reason!);
        }
        if (data.Count == 0) throw new NotApplicableException($"no RAVEL data in '{options.DataDirectory}': {string.Join("; ", skipped)}");
        if (!context.Model.TryGet<ITextInterventions>(out var interventions, out why)) throw new NotApplicableException(why);
        if (!context.Model.TryGet<IHookGradient>(out var gradient, out why)) throw new NotApplicableException(why + ", which RAVEL's mask training needs");
        return new RavelJob(context, options, text, interventions, gradient, data, skipped);
    }
}

/// <summary>Descriptors of the RAVEL metrics (SAEBench's category and names).</summary>
public static class RavelMetrics
{
    public static readonly MetricDescriptor Disentanglement = new("ravel", "disentanglement_score", "RAVEL disentanglement", "fraction", true);
    public static readonly MetricDescriptor Cause = new("ravel", "cause_score", "RAVEL cause", "fraction", true);
    public static readonly MetricDescriptor Isolation = new("ravel", "isolation_score", "RAVEL isolation", "fraction", true);
}

/// <summary>The work of one checkpoint: everything happens in <see cref="Complete"/> (RAVEL has its own prompts).</summary>
internal sealed class RavelJob(EvaluationContext context, RavelOptions options, ITextModel text, ITextInterventions model, IHookGradient gradient,
    IReadOnlyList<RavelEntityData> data, IReadOnlyList<string> skipped) : IEvaluationJob
{
    /// <summary>Masks this small are listed latent by latent in the details.</summary>
    private const int MaxLatentsListed = 256;

    public void Observe(SaeBatch batch) { }

    public EvalResult Complete(CancellationToken cancellation)
    {
        var perAttribute = new JsonObject();
        var entityTypes = new JsonObject();
        var notes = new List<string>(skipped);
        var typeScores = new List<(double Cause, double Isolation)>();
        var now = context.Clock.GetUtcNow();
        foreach (var entity in data)
        {
            cancellation.ThrowIfCancellationRequested();
            var scores = new List<(double Cause, double Isolation)>();
            var summary = EntityType(entity, now, perAttribute, scores, notes, cancellation);
            entityTypes[entity.EntityType] = summary;
            if (scores.Count > 0) typeScores.Add((scores.Average(s => s.Cause), scores.Average(s => s.Isolation)));
        }
        if (typeScores.Count == 0) throw new NotApplicableException("RAVEL could score no attribute: " + string.Join("; ", notes));
        double cause = typeScores.Average(s => s.Cause), isolation = typeScores.Average(s => s.Isolation);
        var metrics = new List<MetricValue>
        {
            MetricValue.Of(RavelMetrics.Disentanglement, (cause + isolation) / 2),
            MetricValue.Of(RavelMetrics.Cause, cause),
            MetricValue.Of(RavelMetrics.Isolation, isolation),
        };
        var unstructured = new JsonObject
        {
            ["per_entity_attribute"] = perAttribute,
            ["entity_types"] = entityTypes,
            ["skipped"] = new JsonArray(notes.Select(n => (JsonNode)n).ToArray()),
            ["meaning"] = "per cause attribute: a mask over latents is trained (MDBM) so that swapping the masked latents of a source prompt into a " +
                          "base prompt at the entity's last token makes the model state the source's value of that attribute (cause) and keep the base's " +
                          "value of the others (isolation); scores are the fractions of held-out pairs whose 6-token greedy completion states the " +
                          "expected value; averaged over attributes, then entity types",
        };
        return new EvalResult(metrics, [], unstructured);
    }

    private JsonObject EntityType(RavelEntityData entity, DateTimeOffset now, JsonObject perAttribute, List<(double, double)> scores, List<string> notes, CancellationToken cancellation)
    {
        var tokenizer = text.Tokenizer;
        var prompts = RavelPrompts.Build(entity, tokenizer, text.MaxSequenceLength, options.NGeneratedTokens);
        int built = prompts.Count;
        var rng = SplitMix64.Derive(unchecked(context.Seed ^ RavelEvaluator.SeedSalt), Purpose(entity.EntityType));
        if (options.FullDatasetDownsample is int keep && prompts.Count > keep)
        {
            RavelPrompts.Shuffle(prompts, ref rng);
            prompts = prompts.Take(keep).OrderBy(p => p.Index).ToList();
        }

        // Which prompts the model completes correctly (no intervention).
        var generated = GenerateAll(prompts.Select(p => p.Ids).ToList(), null, null, cancellation);
        for (int i = 0; i < prompts.Count; i++)
        {
            string completion = RavelPrompts.Decode(tokenizer, generated[i]);
            prompts[i] = prompts[i] with
            {
                FirstToken = generated[i][0],
                Completion = completion,
                Correct = RavelMatching.EvaluateCompletion(prompts[i].Text, prompts[i].Label, completion, now),
            };
        }
        var kept = RavelPrompts.CorrectOfTopEntities(prompts, options.TopNEntities);
        var summary = new JsonObject
        {
            ["prompts"] = built,
            ["prompts_generated"] = prompts.Count,
            ["prompts_correct"] = prompts.Count(p => p.Correct),
            ["prompts_kept"] = kept.Count,
            ["entities_kept"] = kept.Select(p => p.Entity).Distinct().Count(),
            ["correct_by_attribute"] = new JsonObject(entity.Templates.Keys.Select(a =>
                KeyValuePair.Create(a, (JsonNode?)JsonValue.Create(prompts.Count(p => p.Correct && p.Attribute == a))))),
        };

        var attributes = entity.Templates.Keys.ToList();
        foreach (var cause in attributes)
        {
            string key = $"{entity.EntityType}_{cause}";
            var causePairs = RavelPrompts.Pairs(kept, cause, options.NumPairsPerAttribute, cause: true, ref rng);
            var isoPairs = new List<RavelPair>();
            foreach (var other in attributes.Where(a => a != cause))
                isoPairs.AddRange(RavelPrompts.Pairs(kept, other, options.NumPairsPerAttribute, cause: false, ref rng));
            RavelPrompts.Shuffle(isoPairs, ref rng);
            if (isoPairs.Count > causePairs.Count) isoPairs.RemoveRange(causePairs.Count, isoPairs.Count - causePairs.Count);
            var pairs = causePairs.Concat(isoPairs).ToList();
            RavelPrompts.Shuffle(pairs, ref rng);
            int trainCount = (int)(pairs.Count * options.TrainTestSplit);
            var train = pairs.Take(trainCount).ToList();
            var test = pairs.Skip(trainCount).ToList();
            var result = Attribute(train, test, cancellation, out var detail);
            detail["cause_pairs"] = causePairs.Count;
            detail["isolation_pairs"] = isoPairs.Count;
            perAttribute[key] = detail;
            if (result is { } r) scores.Add(r);
            else notes.Add($"{key}: {detail["not_scored"]}");
        }
        return summary;
    }

    /// <summary>Trains the mask on <paramref name="train"/> and scores <paramref name="test"/>; null when there is nothing to score.</summary>
    private (double Cause, double Isolation)? Attribute(List<RavelPair> train, List<RavelPair> test, CancellationToken cancellation, out JsonObject detail)
    {
        var sae = context.Sae;
        int batch = options.LlmBatchSize;
        detail = new JsonObject { ["train_pairs"] = train.Count, ["test_pairs"] = test.Count };
        // SAEBench's loaders drop the trailing partial batch of training pairs.
        int trainBatches = train.Count / batch;
        var batches = new List<MdbmBatch>();
        try
        {
            for (int b = 0; b < trainBatches; b++)
            {
                var slice = train.GetRange(b * batch, batch);
                var (baseRows, sourceRows) = Rows(slice);
                batches.Add(new MdbmBatch(baseRows, sourceRows, new HookGradientLoss(gradient, slice)));
            }
            var trained = Mdbm.Train(sae, context.Backend, batches, options.NumEpochs, options.LearningRate, cancellation);
            detail["train_steps"] = trained.Steps;
            detail["first_train_loss"] = double.IsFinite(trained.FirstLoss) ? trained.FirstLoss : null;
            detail["last_train_loss"] = double.IsFinite(trained.LastLoss) ? trained.LastLoss : null;
            var selected = trained.Selected;
            detail["latents_selected"] = selected.Length;
            if (selected.Length <= MaxLatentsListed) detail["latents"] = new JsonArray(selected.Select(i => (JsonNode)i).ToArray());

            var hard = Mdbm.HardMask(trained.Mask);
            var causeHits = new List<bool>();
            var isoHits = new List<bool>();
            for (int start = 0; start < test.Count; start += batch)
            {
                cancellation.ThrowIfCancellationRequested();
                var slice = test.GetRange(start, Math.Min(batch, test.Count - start));
                var (baseRows, sourceRows) = Rows(slice);
                using (baseRows)
                using (sourceRows)
                using (var fBase = new HostMatrix(slice.Count, sae.DSae))
                using (var fSource = new HostMatrix(slice.Count, sae.DSae))
                using (var edited = new HostMatrix(slice.Count, sae.DIn))
                {
                    sae.Encode(context.Backend, baseRows, fBase);
                    sae.Encode(context.Backend, sourceRows, fSource);
                    Mdbm.Edit(sae, context.Backend, fBase, fSource, hard, edited);
                    var generated = model.Generate(slice.Select(p => p.Base.Ids).ToList(), options.NGeneratedTokens, slice.Select(p => p.Base.Position).ToList(), edited);
                    for (int i = 0; i < slice.Count; i++)
                    {
                        var pair = slice[i];
                        bool hit = RavelMatching.EvaluateCompletion(pair.Base.Text, pair.Label, RavelPrompts.Decode(text.Tokenizer, generated[i]), context.Clock.GetUtcNow());
                        (pair.ScoredAsIsolation ? isoHits : causeHits).Add(hit);
                    }
                }
            }
            detail["cause_scored"] = causeHits.Count;
            detail["isolation_scored"] = isoHits.Count;
            if (causeHits.Count == 0 || isoHits.Count == 0)
            {
                detail["not_scored"] = $"{causeHits.Count} held-out pairs scored as cause and {isoHits.Count} as isolation; both are needed";
                return null;
            }
            double cause = causeHits.Average(h => h ? 1.0 : 0.0), isolation = isoHits.Average(h => h ? 1.0 : 0.0);
            detail["cause_score"] = cause;
            detail["isolation_score"] = isolation;
            detail["disentangle_score"] = (cause + isolation) / 2;
            return (cause, isolation);
        }
        finally
        {
            foreach (var b in batches)
            {
                b.BaseRows.Dispose();
                b.SourceRows.Dispose();
            }
        }
    }

    private (HostMatrix Base, HostMatrix Source) Rows(List<RavelPair> pairs)
    {
        var baseRows = model.HookRowsAt(pairs.Select(p => p.Base.Ids).ToList(), pairs.Select(p => p.Base.Position).ToList());
        var sourceRows = model.HookRowsAt(pairs.Select(p => p.Source.Ids).ToList(), pairs.Select(p => p.Source.Position).ToList());
        return (baseRows, sourceRows);
    }

    private int[][] GenerateAll(List<int[]> sequences, IReadOnlyList<int>? positions, HostMatrix? rows, CancellationToken cancellation)
    {
        var result = new int[sequences.Count][];
        const int Chunk = 256;
        for (int start = 0; start < sequences.Count; start += Chunk)
        {
            cancellation.ThrowIfCancellationRequested();
            int n = Math.Min(Chunk, sequences.Count - start);
            model.Generate(sequences.GetRange(start, n), options.NGeneratedTokens, positions, rows).CopyTo(result, start);
        }
        return result;
    }

    private static ulong Purpose(string name)
    {
        ulong h = 14695981039346656037UL; // FNV-1a: a stable purpose per entity type
        foreach (char c in name) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    /// <summary>MDBM's loss for one batch of pairs through the model's hook gradient.</summary>
    private sealed class HookGradientLoss(IHookGradient model, List<RavelPair> pairs) : IEditedRowLoss
    {
        private readonly List<int[]> _ids = pairs.Select(p => p.Base.Ids).ToList();
        private readonly List<int> _positions = pairs.Select(p => p.Base.Position).ToList();
        private readonly List<int> _targets = pairs.Select(p => p.Target).ToList();

        public HookRowGradient Evaluate(HostMatrix editedRows) => model.LossGradient(_ids, _positions, editedRows, _targets);
    }
}
