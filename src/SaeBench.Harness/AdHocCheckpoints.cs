using SaeBench.Core.Configuration;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Harness;

/// <summary>
/// <c>saebench run --checkpoint PATH</c> (repeatable): evaluate the given checkpoints (directories or files, in any format
/// the loaders detect) without writing a YAML file. The paths replace the configuration's <c>checkpoints:</c> section,
/// resolved against the working directory, so no suite is trained; ids come from the paths as for a registry entry.
/// </summary>
public static class AdHocCheckpoints
{
    /// <summary>A copy of <paramref name="config"/> whose checkpoints are <paramref name="paths"/> (unchanged when empty).</summary>
    public static RunConfig Apply(RunConfig config, IReadOnlyList<string> paths, string workingDirectory)
    {
        if (paths.Count == 0) return config;
        var list = new YamlSequenceNode();
        foreach (var p in paths)
            list.Add(new YamlMappingNode { { "path", Path.GetFullPath(p, workingDirectory) } });
        return config with { Checkpoints = list, Source = config.Source + " with --checkpoint" };
    }
}
