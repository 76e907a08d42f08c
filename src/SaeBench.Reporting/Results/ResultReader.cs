using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Globalization;
using System.Text.Json;

namespace SaeBench.Reporting.Results;

/// <summary>A results directory that does not exist or holds no result file.</summary>
public sealed class ResultsInputException(string message) : Core.BadInputException(message);

/// <summary>Reads every <c>eval_results/**/*_eval_results.json</c> under a directory (docs/RESULT_FILES.md).
/// Shards written into one tree, or into sibling sub-directories, are merged. A file that cannot be
/// read is reported in <see cref="ResultSet.Problems"/> with its path and skipped.</summary>
public static class ResultReader
{
    public const string ResultSuffix = ResultFile.Suffix;

    /// <summary>Loads a results directory. Throws <see cref="ResultsInputException"/> when the directory is
    /// missing or has no result file at all (not even a malformed one).</summary>
    public static ResultSet Load(string directory)
    {
        var root = Path.GetFullPath(directory);
        if (!Directory.Exists(root)) throw new ResultsInputException($"results directory '{directory}' does not exist");
        var files = Directory.EnumerateFiles(root, "*" + ResultSuffix, SearchOption.AllDirectories)
            .Where(f => Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Contains("eval_results"))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new ResultsInputException($"no result files (eval_results/<eval_type_id>/<checkpoint_id>{ResultSuffix}) under '{directory}'");

        var problems = new List<ResultProblem>();
        var kept = new Dictionary<(string, string), ResultRecord>();
        foreach (var file in files)
        {
            var shown = Path.GetRelativePath(root, file);
            ResultRecord result;
            try
            {
                result = ResultFile.Parse(ResultFile.ReadText(file), shown, problems);
            }
            catch (FormatException e) { problems.Add(new ResultProblem(shown, e.Message)); continue; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { problems.Add(new ResultProblem(shown, "cannot read: " + e.Message)); continue; }
            var key = (result.EvalTypeId, result.Checkpoint.Id);
            if (kept.TryGetValue(key, out var other))
            {
                var newer = result.DatetimeEpochMillis >= other.DatetimeEpochMillis ? result : other;
                var older = ReferenceEquals(newer, result) ? other : result;
                problems.Add(new ResultProblem(older.SourceFile,
                    $"duplicate result for eval '{key.EvalTypeId}' and checkpoint '{key.Id}'; kept the newer {newer.SourceFile}"));
                kept[key] = newer;
            }
            else kept[key] = result;
        }
        var manifest = LoadManifests(root, problems);
        var results = kept.Values.OrderBy(r => r.Checkpoint.Id, StringComparer.Ordinal).ThenBy(r => r.EvalTypeId, StringComparer.Ordinal).ToList();
        return new ResultSet(root, results, problems, manifest);
    }

    /// <summary>
    /// The run manifests next to any <c>eval_results</c> folder, merged: <c>manifest.json</c> and the shards'
    /// <c>manifest.shard-i-of-n.json</c> (<see cref="RunManifest.FileName"/>).
    /// </summary>
    private static RunManifest? LoadManifests(string root, List<ResultProblem> problems)
    {
        var manifests = new List<RunManifest>();
        var paths = Directory.EnumerateFiles(root, "manifest*.json", SearchOption.AllDirectories)
            .Where(p => RunManifest.IsManifestFileName(Path.GetFileName(p)) && Directory.Exists(Path.Combine(Path.GetDirectoryName(p)!, "eval_results")))
            .Order(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var shown = Path.GetRelativePath(root, path);
            try { manifests.Add(RunManifest.Parse(ResultFile.ReadText(path))); }
            catch (FormatException e) { problems.Add(new ResultProblem(shown, e.Message)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { problems.Add(new ResultProblem(shown, "cannot read: " + e.Message)); }
        }
        return manifests.Count == 0 ? null : RunManifest.Merge(manifests);
    }
}
