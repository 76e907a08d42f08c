using System.Globalization;
using SaeBench.Core;
using SaeBench.Models.Language;
using SaeBench.Models.Language.Data;

namespace SaeBench.Models.LanguageModels;

/// <summary>
/// The <c>hf:</c> model spec: <c>hf:PATH[,hook=NAME][,processing=none|tl-default|FLAGS][,context=N][,dataset=PATH]
/// [,field=NAME][,windows=N][,test_fraction=F][,prepend_bos=true|false][,seed=N][,batch_windows=N]</c>. PATH is a
/// snapshot folder, a Hugging Face cache repo folder (<c>models--org--name</c>), or a repo id (<c>org/name</c>) looked up
/// in the Hugging Face cache (<c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>).
/// Without <c>dataset=</c> the corpus is the repository's <c>data/text/python-docstrings.jsonl</c>. Keys given in the
/// spec win over the same keys in a configuration's <c>model_options</c>.
/// </summary>
public static class HfModelSpec
{
    public const string Prefix = LanguageModelUnderStudy.Prefix;
    public const string DefaultCorpus = "data/text/python-docstrings.jsonl";

    public static IReadOnlyList<string> Keys { get; } =
        ["hook", "processing", "context", "dataset", "field", "windows", "test_fraction", "prepend_bos", "seed", "batch_windows"];

    /// <summary>Parses the spec (with its prefix) and the model options; a <see cref="BadInputException"/> names the key.</summary>
    public static LanguageModelSpec Parse(string spec, ModelOptions options)
    {
        var parts = spec[Prefix.Length..].Split(',');
        if (parts[0].Trim().Length == 0) throw new BadInputException("model: 'hf:' needs a path, e.g. hf:models/gpt2 or hf:openai-community/gpt2.");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in options.LanguageModelOptions) values[key] = value;
        foreach (var part in parts.Skip(1))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || kv[0].Trim().Length == 0)
                throw new BadInputException($"model: '{part}' in '{spec}' is not KEY=VALUE (keys: {string.Join(", ", Keys)}).");
            values[kv[0].Trim()] = kv[1].Trim();
        }
        foreach (var key in values.Keys)
            if (!Keys.Contains(key)) throw new BadInputException("model: " + Core.Configuration.Suggest.UnknownName("hf: option", key, Keys));

        string at(string key) => $"model: {key}";
        int Int(string key, int fallback, int min)
        {
            if (!values.TryGetValue(key, out var v)) return fallback;
            if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min)
                throw new BadInputException($"{at(key)}: '{v}' must be an integer ≥ {min}.");
            return n;
        }
        var path = ResolvePath(parts[0].Trim(), options);
        var processing = WeightProcessing.None;
        if (values.TryGetValue("processing", out var p))
        {
            try { processing = WeightProcessing.Parse(p); }
            catch (ArgumentException e) { throw new BadInputException($"{at("processing")}: {e.Message}", e); }
        }
        double testFraction = 0.25;
        if (values.TryGetValue("test_fraction", out var tf)
            && (!double.TryParse(tf, NumberStyles.Float, CultureInfo.InvariantCulture, out testFraction) || !(testFraction > 0 && testFraction < 1)))
            throw new BadInputException($"{at("test_fraction")}: '{tf}' must be a number in (0, 1).");
        bool? prependBos = null;
        if (values.TryGetValue("prepend_bos", out var pb))
            prependBos = bool.TryParse(pb, out var b) ? b : throw new BadInputException($"{at("prepend_bos")}: '{pb}' must be true or false.");
        string corpus = values.TryGetValue("dataset", out var d) ? RepositoryPaths.Resolve(options, d) : DefaultCorpusPath(options);
        return new LanguageModelSpec(
            path,
            Hook: values.GetValueOrDefault("hook") ?? options.Hook,
            Processing: processing,
            Context: Int("context", 128, 2),
            Corpus: new TextSource(corpus, values.GetValueOrDefault("field") ?? "text"),
            MaxWindows: Int("windows", 1024, 2),
            TestFraction: testFraction,
            PrependBos: prependBos,
            Seed: (ulong)Int("seed", 0, 0),
            BatchWindows: Int("batch_windows", 16, 1),
            DataDirectory: options.WorkingDirectory);
    }

    /// <summary>The corpus used when the spec names none: the repository's shipped text.</summary>
    public static string DefaultCorpusPath(ModelOptions options)
    {
        var root = RepositoryPaths.FindRepositoryRoot(options.WorkingDirectory);
        return root is null ? RepositoryPaths.Resolve(options, DefaultCorpus) : Path.Combine(root, DefaultCorpus);
    }

    /// <summary>A path, a cache repo folder, or an <c>org/name</c> repo id found in the Hugging Face cache.</summary>
    public static string ResolvePath(string given, ModelOptions options)
    {
        var full = RepositoryPaths.Resolve(options, given);
        if (Directory.Exists(full) || File.Exists(full)) return full;
        var hub = HubCache(options);
        var parts = given.Split('/');
        if (parts.Length == 2 && parts.All(s => s.Length > 0) && hub is not null)
        {
            var repo = Path.Combine(hub, $"models--{parts[0]}--{parts[1]}");
            if (Directory.Exists(repo)) return repo;
            throw new BadInputException($"model: '{given}' is not a folder, and the Hugging Face cache has no {repo} (nothing is downloaded: put the snapshot on disk).");
        }
        throw new BadInputException($"model: '{given}' does not exist (resolved to {full}).");
    }

    private static string? HubCache(ModelOptions options)
    {
        if (options.Variables("HF_HUB_CACHE") is { Length: > 0 } hub) return hub;
        if (options.Variables("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        var user = options.Variables("HOME");
        return user is { Length: > 0 } ? Path.Combine(user, ".cache", "huggingface", "hub") : null;
    }
}
