using SaeBench.Models.FashionMnist;
using SaeBench.Models.Synthetic;

namespace SaeBench.Models;

/// <summary>Everything that configures how a model under study is built. Every random choice is seeded from here.</summary>
public sealed record ModelOptions
{
    /// <summary>Hook point; null = the model's default (see <see cref="ModelCatalog"/>).</summary>
    public string? Hook { get; init; }

    /// <summary>Directory against which relative paths resolve and from which the repository root is searched;
    /// null = the process's current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Directory holding the four Fashion-MNIST IDX .gz files; null = <c>data/fashion-mnist</c> of the repository.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Where trained weights and activation caches live; null = <c>.saebench-cache</c> at the repository root.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Cache activations on disk per (model hash, hook, split) and read them back in batches.</summary>
    public bool CacheActivations { get; init; } = true;

    /// <summary>The class (name or index) whose examples form the forget set; null = the model's default.</summary>
    public string? ForgetClass { get; init; }

    public MlpTrainingConfig Mlp { get; init; } = new();

    public SyntheticWorldConfig Synthetic { get; init; } = new();

    /// <summary>For a single activation file (not a directory), the fraction of examples, taken from the end, that forms
    /// the test split.</summary>
    public double FileTestFraction { get; init; } = 0.2;

    /// <summary>Options of an <c>hf:</c> language model given outside its spec (a configuration's <c>model_options</c>):
    /// processing, context, dataset, … (<see cref="LanguageModels.HfModelSpec.Keys"/>); the spec's own keys win.</summary>
    public IReadOnlyDictionary<string, string> LanguageModelOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>Environment variables (<c>HF_HOME</c>, <c>HF_HUB_CACHE</c>, <c>HOME</c> for the Hugging Face cache).</summary>
    public Func<string, string?> Variables { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>Use activation files holding NaN or ±Inf (they are logged) instead of refusing them.</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>Progress messages (training, caching); null = silent.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>Finding the repository's data and cache directories without any global state.</summary>
public static class RepositoryPaths
{
    public const string FashionMnistRelative = "data/fashion-mnist";
    public const string CacheDirectoryName = ".saebench-cache";

    /// <summary>The repository root: the first directory, going up from the working directory and then from the
    /// program's own directory, that holds <c>data/fashion-mnist</c>. Null when there is none.</summary>
    public static string? FindRepositoryRoot(string? workingDirectory)
    {
        foreach (var start in new[] { workingDirectory ?? Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, FashionMnistRelative, FashionMnistFiles.TrainImages)))
                    return dir.FullName;
            }
        }
        return null;
    }

    public static string DataDirectory(ModelOptions options)
    {
        if (options.DataDirectory is not null) return Resolve(options, options.DataDirectory);
        var root = FindRepositoryRoot(options.WorkingDirectory)
            ?? throw new DirectoryNotFoundException(
                $"Cannot find '{FashionMnistRelative}/' (the Fashion-MNIST IDX files shipped with the repository) above " +
                $"'{options.WorkingDirectory ?? Directory.GetCurrentDirectory()}' or '{AppContext.BaseDirectory}'. " +
                "Run from inside the repository or set the data directory.");
        return Path.Combine(root, FashionMnistRelative);
    }

    public static string CacheDirectory(ModelOptions options)
    {
        if (options.CacheDirectory is not null) return Resolve(options, options.CacheDirectory);
        var root = FindRepositoryRoot(options.WorkingDirectory);
        return root is not null
            ? Path.Combine(root, CacheDirectoryName)
            : Path.Combine(Path.GetTempPath(), "saebench-cache");
    }

    public static string Resolve(ModelOptions options, string path) =>
        Path.GetFullPath(Path.Combine(options.WorkingDirectory ?? Directory.GetCurrentDirectory(), path));
}
