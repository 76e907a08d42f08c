using SaeBench.Compute.Backends;
using SaeBench.Core.Configuration;
using SaeBench.Core.Models;
using SaeBench.Core.Registry;
using SaeBench.Core.Running;
using SaeBench.Models;
using SaeBench.Training.Suites;

namespace SaeBench.Cli.Commands;

/// <summary>
/// The checkpoints of a training suite (the config's <c>suite</c>, default <c>quick</c>), trained first when missing:
/// the embedded default's path. Members come back through the suite's <c>registry.yaml</c>, exactly as a user's
/// registry would, so their ids and tags (architecture, width, target_l0) are the ones reports group by.
/// </summary>
internal static class SuiteCheckpoints
{
    public static IReadOnlyList<RunCheckpoint> Ensure(CliContext context, RunConfig cfg, IModelUnderStudy model, ComputeBackend backend, CancellationToken cancellation)
    {
        SuiteDefinition suite;
        try
        {
            suite = BuiltInSuites.TryGet(cfg.Suite) ?? SuiteDefinition.FromFile(cfg.Resolve(cfg.Suite));
        }
        catch (SuiteFormatException e)
        {
            throw new UserInputException($"{cfg.Source}: suite: {e.Message} Built-in suites: {string.Join(", ", BuiltInSuites.Names)}.", e);
        }
        var options = ModelsCommand.Options(context) with { WorkingDirectory = cfg.BaseDirectory };
        string dir = SuiteTrainer.DefaultDirectory(RepositoryPaths.CacheDirectory(options), suite, model.Info);
        TrainCommand.Train(context, suite, model, backend, dir, force: false, cancellation);

        var digests = CheckpointCommandSupport.Digests(context, cfg.BaseDirectory);
        var resolution = CheckpointRegistry.FromFile(Path.Combine(dir, SuiteTrainer.RegistryFile)).Resolve(digests);
        foreach (var d in resolution.Diagnostics) context.Error.WriteLine(d.ToString());
        return resolution.Entries.Select(e => RunCommand.ToRunCheckpoint(e, digests)).ToList();
    }
}
