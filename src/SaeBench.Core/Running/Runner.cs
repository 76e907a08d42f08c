using System.Diagnostics;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Results;

namespace SaeBench.Core.Running;

/// <summary>A checkpoint as the runner sees it: an id, tags for grouping, its content hash and a way to load it.</summary>
public sealed record RunCheckpoint(
    string Id,
    string Path,
    IReadOnlyDictionary<string, string> Tags,
    Func<string> Sha256,
    Func<LoadedCheckpoint> Load);

/// <summary>An evaluator with its validated options.</summary>
public sealed record PlannedEvaluator(IEvaluator Evaluator, EvaluatorOptions Options)
{
    public string Id => Evaluator.Info.Id;
    /// <summary>The options as JSON (a fresh object each time: the caller may attach it to a document).</summary>
    public JsonObject Config => Options.ToJson();

    /// <summary>Hash of the canonical options, computed once (it enters every job key of the plan).</summary>
    public string OptionsHash { get; } = Hashing.OfCanonicalJson(Options.ToJson());
}

/// <summary>Everything about a run that is not a checkpoint, an evaluator or the model.</summary>
public sealed record RunSettings(
    string OutputDirectory,
    ComputeBackend Backend,
    HarnessVersion Harness,
    TimeProvider Clock)
{
    public Shard Shard { get; init; } = Shard.All;
    public bool Force { get; init; }
    public int Seed { get; init; }
    /// <summary>Rows (tokens) per evaluation batch: memory is bounded by BatchRows × d_sae.</summary>
    public int BatchRows { get; init; } = 2048;
    public string ReleaseId { get; init; } = "custom";

    /// <summary>Run checkpoints whose recorded model, hook or processing differ from the model under study (the width must
    /// still fit). Off by default: such a checkpoint's jobs fail, saying what differs.</summary>
    public bool AllowModelMismatch { get; init; }

    /// <summary>How result files and the manifest are written (path, text): atomically by default. A test can make it fail
    /// as a full or read-only disk would.</summary>
    public Action<string, string> WriteFile { get; init; } = AtomicFile.WriteAllText;
}

/// <summary>
/// Runs the plan (checkpoints × evaluators) for one shard: skips finished jobs, loads each checkpoint once, streams the
/// evaluation split through the SAE once and shares every batch with all of that checkpoint's jobs, writes one result
/// file per job atomically, records failures and goes on, and stops cleanly when cancelled. A bad checkpoint fails its
/// own jobs only. When the output cannot be written (denied, read-only, disk full) the run stops at once with an
/// <see cref="EnvironmentFailureException"/> saying what to do; the results written before it are kept, and a re-run resumes.
/// </summary>
public sealed class Runner(RunSettings settings, IRunObserver? observer = null)
{
    private readonly IRunObserver _observer = observer ?? new NullRunObserver();

    public RunManifest Run(IReadOnlyList<RunCheckpoint> checkpoints, IReadOnlyList<PlannedEvaluator> evaluators, IModelUnderStudy model, CancellationToken cancellation = default)
    {
        var duplicate = checkpoints.GroupBy(c => c.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new Configuration.ConfigException($"checkpoint id '{duplicate.Key}' is used by {duplicate.Count()} checkpoints ({string.Join(", ", duplicate.Select(c => c.Path))}); give them distinct 'id's.");

        AtomicFile.CleanOrphans(Path.Combine(settings.OutputDirectory, "eval_results"));
        var ordered = checkpoints.OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
        var mine = ordered.Where((_, i) => settings.Shard.Contains(i)).ToList();

        var planned = new List<PlannedJob>();
        var done = new List<PlannedJob>();
        var skipped = new List<PlannedJob>();
        var failed = new List<FailedJob>();
        var notApplicable = new List<PlannedJob>();
        bool interrupted = false;

        // Hash every checkpoint first so the plan (and what is already done) is known before any compute.
        var work = new List<(RunCheckpoint Checkpoint, string? Sha, string? HashError, List<(PlannedEvaluator Ev, PlannedJob Job)> Pending)>();
        foreach (var ck in mine)
        {
            string? sha = null, hashError = null;
            try { sha = ck.Sha256(); }
            catch (Exception e) when (e is not OperationCanceledException) { hashError = $"{ck.Path}: {e.Message}"; }
            var pending = new List<(PlannedEvaluator, PlannedJob)>();
            foreach (var ev in evaluators)
            {
                var key = JobKey.Compute(sha ?? "unreadable:" + ck.Path, ev.Id, ev.Evaluator.Info.Version, ev.OptionsHash, model.Info.ContentHash,
                    settings.Seed, settings.Harness.Code);
                var job = new PlannedJob(ev.Id, ck.Id, key);
                planned.Add(job);
                // Only read an earlier result when it could be kept (not forced, checkpoint readable).
                if (!settings.Force && sha is not null
                    && ResultFile.ReadStamp(ResultEnvelope.PathFor(settings.OutputDirectory, ev.Id, ck.Id)) is { } s
                    && s.JobKey == key && s.Status is JobStatuses.Done or JobStatuses.NotApplicable)
                {
                    skipped.Add(job);
                    _observer.OnEvent(new JobFinished(ck.Id, ev.Id, JobStatuses.Skipped, 0, null));
                }
                else pending.Add((ev, job));
            }
            work.Add((ck, sha, hashError, pending));
        }
        _observer.OnEvent(new PlanReady(mine.Count, planned.Count, skipped.Count));

        try
        {
            RunJobs(work, model, cancellation, done, failed, notApplicable, ref interrupted);
        }
        catch (EnvironmentFailureException e)
        {
            var partial = new RunManifest(planned, done, skipped, failed, notApplicable, Interrupted: true);
            try { settings.WriteFile(ManifestPath, partial.ToJsonString()); }
            catch (Exception ignored) when (ignored is IOException or UnauthorizedAccessException) { }
            throw new EnvironmentFailureException(
                $"{e.Message}. The run stopped: the {done.Count + notApplicable.Count} results written before are kept, and running the same command again resumes.", e);
        }

        var manifest = new RunManifest(planned, done, skipped, failed, notApplicable, interrupted);
        try
        {
            settings.WriteFile(ManifestPath, manifest.ToJsonString());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EnvironmentFailureException(
                $"{EnvironmentFailureException.Writing(ManifestPath, e).Message}. Every job ran and its result file is kept; running the same command again writes the manifest.", e);
        }
        return manifest;
    }

    private string ManifestPath => Path.Combine(settings.OutputDirectory, RunManifest.FileName(settings.Shard.Index, settings.Shard.Count));

    private void RunJobs(List<(RunCheckpoint Checkpoint, string? Sha, string? HashError, List<(PlannedEvaluator Ev, PlannedJob Job)> Pending)> work,
        IModelUnderStudy model, CancellationToken cancellation, List<PlannedJob> done, List<FailedJob> failed, List<PlannedJob> notApplicable, ref bool interrupted)
    {
        foreach (var (ck, sha, hashError, pending) in work)
        {
            if (pending.Count == 0) continue;
            if (cancellation.IsCancellationRequested) { interrupted = true; break; }

            if (hashError is not null)
            {
                foreach (var (ev, job) in pending) Fail(ck, null, ev, job, hashError, 0, model, failed);
                continue;
            }

            LoadedCheckpoint loaded;
            try
            {
                loaded = ck.Load();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                foreach (var (ev, job) in pending) Fail(ck, null, ev, job, $"loading {ck.Path}: {e.Message}", 0, model, failed);
                continue;
            }

            if (Mismatch(ck, loaded, model) is { } mismatch)
            {
                foreach (var (ev, job) in pending) Fail(ck, sha, ev, job, mismatch, 0, model, failed, loaded);
                continue;
            }

            try
            {
                RunCheckpointJobs(ck, sha!, loaded, pending, model, cancellation, done, failed, notApplicable);
            }
            catch (OperationCanceledException)
            {
                interrupted = true;
                break;
            }
        }
    }

    /// <summary>Why a checkpoint does not fit the model (its width never can; model, hook and processing unless allowed), or null.</summary>
    private string? Mismatch(RunCheckpoint ck, LoadedCheckpoint loaded, IModelUnderStudy model)
    {
        if (loaded.Info.DIn != model.Info.DModel)
            return $"{ck.Path}: d_in is {loaded.Info.DIn}, but the model's hook {model.Info.Hook} has width {model.Info.DModel}; the SAE does not fit this model or hook.";
        if (settings.AllowModelMismatch || model.Capability<ICheckpointCompatibility>() is not { } compatibility) return null;
        var problems = compatibility.Problems(loaded.Sae.Config);
        return problems.Count == 0 ? null
            : $"{ck.Path}: made for another model or hook: {string.Join("; ", problems)} (set allow_model_mismatch: true, or --allow-model-mismatch, to run it anyway)";
    }

    private sealed class ActiveJob(PlannedEvaluator ev, PlannedJob job, IEvaluationJob? instance)
    {
        public PlannedEvaluator Ev { get; } = ev;
        public PlannedJob Job { get; } = job;
        public IEvaluationJob? Instance { get; set; } = instance;
        public string? Error { get; set; }
        public double Seconds { get; set; }
    }

    /// <summary>Runs the pending jobs of one loaded checkpoint; cancellation surfaces as <see cref="OperationCanceledException"/>.</summary>
    private void RunCheckpointJobs(RunCheckpoint ck, string sha, LoadedCheckpoint loaded, List<(PlannedEvaluator Ev, PlannedJob Job)> pending,
        IModelUnderStudy model, CancellationToken cancellation, List<PlannedJob> done, List<FailedJob> failed, List<PlannedJob> notApplicable)
    {
        var context = new EvaluationContext(loaded.Sae, ck.Id, ck.Tags, model, settings.Backend, settings.Seed, settings.BatchRows, settings.Clock);
        var active = new List<ActiveJob>();
        foreach (var (ev, job) in pending)
        {
            var sw = Stopwatch.StartNew();
            try
            {
                active.Add(new ActiveJob(ev, job, ev.Evaluator.Start(context, ev.Options)) { Seconds = sw.Elapsed.TotalSeconds });
            }
            catch (NotApplicableException e)
            {
                Write(ck, sha, loaded, ev, job, EvalResult.Empty, JobStatus.NotApplicable, e.Message, sw.Elapsed.TotalSeconds, model);
                notApplicable.Add(job);
            }
            catch (Exception e) when (e is not (OperationCanceledException or EnvironmentFailureException))
            {
                Fail(ck, sha, ev, job, e.Message, sw.Elapsed.TotalSeconds, model, failed, loaded);
            }
        }
        if (active.Count == 0) return;

        var source = model.Activations(Split.Test);
        int perBatch = Math.Max(1, settings.BatchRows / Math.Max(1, source.Shape.Positions));
        int batches = (source.Shape.Examples + perBatch - 1) / perBatch;
        _observer.OnEvent(new CheckpointStarted(ck.Id, active.Select(a => a.Ev.Id).ToList(), batches));

        int b = 0;
        foreach (var batch in SaeBatchStream.Encode(loaded.Sae, settings.Backend, source, settings.BatchRows))
        {
            cancellation.ThrowIfCancellationRequested();
            foreach (var a in active.Where(a => a.Instance is not null))
            {
                var sw = Stopwatch.StartNew();
                try { a.Instance!.Observe(batch); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    a.Error = e.Message;
                    a.Instance = null;
                }
                a.Seconds += sw.Elapsed.TotalSeconds;
            }
            _observer.OnEvent(new BatchObserved(ck.Id, ++b, batches));
        }

        foreach (var a in active)
        {
            cancellation.ThrowIfCancellationRequested();
            if (a.Instance is null)
            {
                Fail(ck, sha, a.Ev, a.Job, a.Error ?? "unknown error", a.Seconds, model, failed, loaded);
                continue;
            }
            _observer.OnEvent(new JobCompleting(ck.Id, a.Ev.Id));
            var sw = Stopwatch.StartNew();
            try
            {
                var result = a.Instance.Complete(cancellation);
                Write(ck, sha, loaded, a.Ev, a.Job, result, JobStatus.Done, null, a.Seconds + sw.Elapsed.TotalSeconds, model);
                done.Add(a.Job);
            }
            catch (NotApplicableException e)
            {
                Write(ck, sha, loaded, a.Ev, a.Job, EvalResult.Empty, JobStatus.NotApplicable, e.Message, a.Seconds + sw.Elapsed.TotalSeconds, model);
                notApplicable.Add(a.Job);
            }
            catch (Exception e) when (e is not (OperationCanceledException or EnvironmentFailureException))
            {
                Fail(ck, sha, a.Ev, a.Job, e.Message, a.Seconds + sw.Elapsed.TotalSeconds, model, failed, loaded);
            }
        }
    }

    /// <summary>
    /// The architecture reports group by: the registry tag when the user gave one, else the name the checkpoint uses
    /// (e.g. <c>p_anneal</c>, which runs as <c>relu</c> at inference), else the canonical id.
    /// </summary>
    private static string ReportedArchitecture(RunCheckpoint ck, CheckpointInfo? info) =>
        ck.Tags.TryGetValue("architecture", out var tagged) ? tagged : info?.ArchitectureName ?? info?.Architecture ?? "unknown";

    private void Fail(RunCheckpoint ck, string? sha, PlannedEvaluator ev, PlannedJob job, string error, double seconds, IModelUnderStudy model,
        List<FailedJob> failed, LoadedCheckpoint? loaded = null)
    {
        failed.Add(new FailedJob(job, error));
        Write(ck, sha ?? "", loaded, ev, job, EvalResult.Empty, JobStatus.Failed, error, seconds, model);
    }

    private void Write(RunCheckpoint ck, string sha, LoadedCheckpoint? loaded, PlannedEvaluator ev, PlannedJob job, EvalResult result,
        JobStatus status, string? error, double seconds, IModelUnderStudy model)
    {
        var info = loaded?.Info;
        var envelope = new ResultEnvelope(
            ev.Id,
            ev.Config,
            Guid.NewGuid().ToString(),
            settings.Clock.GetUtcNow().ToUnixTimeMilliseconds(),
            result,
            settings.ReleaseId,
            info is null ? [] : SaeConfigJson.Of(info),
            new Provenance(
                settings.Harness.Release, settings.Harness.Code, settings.Harness.Commit, ev.Evaluator.Info.Version, job.JobKey, status, error,
                settings.Backend.Description, model.Info.Id, model.Info.ContentHash, settings.Seed,
                new CheckpointProvenance(ck.Id, sha, ck.Path, info?.Format ?? "unknown", ReportedArchitecture(ck, info),
                    info?.DIn ?? 0, info?.DSae ?? 0, ck.Tags),
                seconds));
        var path = ResultEnvelope.PathFor(settings.OutputDirectory, ev.Id, ck.Id);
        try
        {
            settings.WriteFile(path, envelope.ToText());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw EnvironmentFailureException.Writing(path, e);
        }
        _observer.OnEvent(new JobFinished(ck.Id, ev.Id, JobStatuses.Name(status), seconds, error));
    }
}
