using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Models;
using SaeBench.Core.Results;
using SaeBench.Core.Autoencoders;
using SaeBench.Training.Baselines;

namespace SaeBench.Training.Suites;

/// <summary>Progress of a suite: which member, and its latest training report (null when skipped or finished).</summary>
public sealed record SuiteProgress(int MemberIndex, int MemberCount, string MemberId, TrainingProgress? Step, string Status);

/// <summary>One trained (or already present) member: where its checkpoint is, its registry id and tags, its statistics.</summary>
public sealed record TrainedMember(
    string CheckpointPath, string Id, IReadOnlyDictionary<string, string> Tags, HeldOutStatistics HeldOut, bool Skipped, double Seconds);

/// <summary>
/// Trains the members of a suite that are missing and writes the suite directory: one native (SAELens v6) checkpoint
/// per member in <c>&lt;dir&gt;/&lt;member id&gt;/</c> with the training options and statistics under <c>metadata</c>,
/// and <c>registry.yaml</c> listing them (tags architecture, width, target_l0, seed). A member is skipped when its
/// checkpoint's <c>metadata.training.key</c> equals the content key (hash of its options, the model's content hash
/// and hook, and the trainer's code version). Interrupted members resume from their state file.
/// </summary>
public sealed class SuiteTrainer(ComputeBackend backend)
{
    public const string RegistryFile = "registry.yaml";
    public const string StateFileName = "train-state.bin";

    /// <summary>The suite directory used when none is given: <c>&lt;cache&gt;/suites/&lt;suite&gt;-&lt;model hash prefix&gt;</c>.</summary>
    public static string DefaultDirectory(string cacheDirectory, SuiteDefinition suite, ModelInfo model) =>
        Path.Combine(cacheDirectory, "suites", $"{suite.Name}-{model.ContentHash[..Math.Min(12, model.ContentHash.Length)]}");

    /// <summary>The content key of a member trained on <paramref name="model"/>.</summary>
    public static string MemberKey(SuiteMember member, ModelInfo model) =>
        Hashing.Sha256(SaeTrainer.HashOptions(member.Options, model.DModel) + "|" + model.ContentHash + "|" + model.Hook
            + (member.Baseline is null ? "" : "|" + BaselineSaes.CodeVersion));

    public IReadOnlyList<TrainedMember> EnsureTrained(
        SuiteDefinition suite, IModelUnderStudy model, string outDirectory, IProgress<SuiteProgress>? progress = null,
        bool force = false, CancellationToken cancellation = default)
    {
        var info = model.Info;
        var members = suite.Members();
        Directory.CreateDirectory(outDirectory);
        AtomicFile.CleanOrphans(outDirectory);
        var train = model.Activations(Split.Train);
        var test = model.Activations(Split.Test);
        var results = new List<TrainedMember>();
        for (int i = 0; i < members.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var member = members[i];
            var tags = member.TagsFor(info.DModel);
            string dir = Path.Combine(outDirectory, member.Id);
            string key = MemberKey(member, info);
            if (!force && TryReadExisting(dir, key) is { } existing)
            {
                results.Add(new TrainedMember(dir, member.Id, tags, existing, Skipped: true, 0));
                progress?.Report(new SuiteProgress(i, members.Count, member.Id, null, "skipped (already trained)"));
                continue;
            }
            if (force && File.Exists(Path.Combine(dir, "cfg.json"))) File.Delete(Path.Combine(dir, "cfg.json"));
            Directory.CreateDirectory(dir);
            if (member.Baseline is { } kind)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var sae = BaselineSaes.Create(kind, train, backend, member.Options.Width > 0 ? member.Options.Width : null);
                double seconds = clock.Elapsed.TotalSeconds;
                var held = HeldOutStatistics.Measure(sae, test, backend);
                var none = new TrainingStatistics(0, seconds, 0, double.NaN, double.NaN, double.NaN, double.NaN, 0, 0);
                WriteCheckpoint(dir, sae, none, held, member, info, key, backend.Gemm.Name);
                results.Add(new TrainedMember(dir, member.Id, tags, held, Skipped: false, seconds));
                progress?.Report(new SuiteProgress(i, members.Count, member.Id, null, string.Create(CultureInfo.InvariantCulture,
                    $"done (baseline): L0 {held.L0:F1}, EV {held.ExplainedVariance:F3}, {seconds:F1} s")));
                WriteRegistry(outDirectory, suite, info, results);
                continue;
            }
            string stateFile = Path.Combine(dir, StateFileName);
            if (force && File.Exists(stateFile)) File.Delete(stateFile);
            int index = i;
            var trainer = new SaeTrainer(backend);
            var trained = trainer.Train(train, member.Options, new TrainingRun
            {
                StateFile = stateFile,
                Cancellation = cancellation,
                Progress = progress is null ? null : new Relay(p => progress.Report(new SuiteProgress(index, members.Count, member.Id, p, "training"))),
            });
            var heldOut = HeldOutStatistics.Measure(trained.Sae, test, backend);
            WriteCheckpoint(dir, trained.Sae, trained.Statistics, heldOut, member, info, key, backend.Gemm.Name);
            File.Delete(stateFile);
            results.Add(new TrainedMember(dir, member.Id, tags, heldOut, Skipped: false, trained.Statistics.Seconds));
            progress?.Report(new SuiteProgress(i, members.Count, member.Id, null, string.Create(CultureInfo.InvariantCulture,
                $"done: L0 {heldOut.L0:F1}, EV {heldOut.ExplainedVariance:F3}, dead {heldOut.DeadFraction:P1}, {trained.Statistics.Seconds:F1} s")));
            WriteRegistry(outDirectory, suite, info, results);
        }
        WriteRegistry(outDirectory, suite, info, results);
        return results;
    }

    private static HeldOutStatistics? TryReadExisting(string dir, string key)
    {
        string cfg = Path.Combine(dir, "cfg.json");
        if (!File.Exists(cfg) || !File.Exists(Path.Combine(dir, "sae_weights.safetensors"))) return null;
        try
        {
            var meta = JsonNode.Parse(File.ReadAllText(cfg))?["metadata"];
            if (meta?["training"]?["key"]?.GetValue<string>() != key) return null;
            var s = meta["statistics"]!;
            return new HeldOutStatistics(s["l0"]!.GetValue<double>(), s["explained_variance"]!.GetValue<double>(),
                s["dead_fraction"]!.GetValue<double>(), s["eval_rows"]!.GetValue<long>(), s["mse"]!.GetValue<double>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            return null;
        }
    }

    private static void WriteCheckpoint(string dir, Sae sae, TrainingStatistics st, HeldOutStatistics heldOut, SuiteMember member, ModelInfo model, string key, string gemm)
    {
        var c = sae.Config;
        c.ModelName = model.Id;
        c.HookName = model.Hook;
        c.ContextSize = model.Positions;
        c.Metadata["training"] = new JsonObject
        {
            ["key"] = key,
            ["trainer"] = member.Options.Architecture,
            ["code_version"] = member.Baseline is null ? SaeTrainer.CodeVersion : BaselineSaes.CodeVersion,
            ["model_content_hash"] = model.ContentHash,
            ["gemm"] = gemm,
            ["options"] = JsonSerializer.SerializeToNode(member.Options),
        };
        var stats = new JsonObject
        {
            ["l0"] = heldOut.L0,
            ["explained_variance"] = heldOut.ExplainedVariance,
            ["dead_fraction"] = heldOut.DeadFraction,
            ["mse"] = heldOut.Mse,
            ["eval_rows"] = heldOut.Rows,
            ["eval_split"] = "test",
            ["steps"] = st.Steps,
            ["seconds"] = st.Seconds,
        };
        if (member.Baseline is null)
        {
            // Training-time values exist only for trained members (baselines are fitted in closed form).
            stats["gemm_seconds"] = st.GemmSeconds;
            stats["samples_per_second"] = st.SamplesPerSecond;
            stats["train_l0"] = st.L0;
            stats["train_explained_variance"] = st.ExplainedVariance;
            stats["train_dead_fraction"] = st.DeadFraction;
            stats["final_penalty"] = st.FinalPenalty;
            stats["target_l0"] = member.Options.TargetL0;
        }
        c.Metadata["statistics"] = stats;
        NativeCheckpointWriter.Write(dir, sae);
    }

    /// <summary>Writes <c>registry.yaml</c> (the <c>checkpoints:</c> section the run config reads) for the members done so far.</summary>
    public static void WriteRegistry(string outDirectory, SuiteDefinition suite, ModelInfo model, IReadOnlyList<TrainedMember> members)
    {
        var sb = new StringBuilder();
        sb.Append("# Written by `saebench train`: suite '").Append(suite.Name).Append("' on model '").Append(model.Id)
          .Append("' (hook ").Append(model.Hook).Append(", content hash ").Append(model.ContentHash).AppendLine(").");
        sb.AppendLine("checkpoints:");
        foreach (var m in members.OrderBy(m => m.Id, StringComparer.Ordinal))
        {
            sb.Append("  - path: ").AppendLine(Path.GetFileName(m.CheckpointPath));
            sb.Append("    id: ").AppendLine(m.Id);
            sb.Append("    tags: {").Append(string.Join(", ", m.Tags.Select(t => $"{t.Key}: \"{t.Value}\""))).AppendLine("}");
        }
        AtomicFile.WriteAllText(Path.Combine(outDirectory, RegistryFile), sb.ToString());
    }

    private sealed class Relay(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
