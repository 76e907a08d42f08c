using SaeBench.Models.LanguageModels;
using SaeBench.Models.Language;
using SaeBench.Core;
using SaeBench.Core.Models;
using SaeBench.Models.Cache;
using SaeBench.Models.FashionMnist;
using SaeBench.Models.Files;
using SaeBench.Models.Synthetic;

namespace SaeBench.Models;

/// <summary>One kind of model a <c>--model</c> spec can name.</summary>
public sealed record ModelEntry(string Spec, string Description, string DefaultHook, IReadOnlyList<string> Hooks);

/// <summary>
/// The models under study, by <c>--model</c> spec, listed once: <c>fashion-mnist-mlp</c> (the default), <c>synthetic</c>,
/// or <c>file:PATH[,labels=CSV]</c>. Bad specs, options and files are <see cref="BadInputException"/>s naming the
/// field or the file; <see cref="Problems"/> finds them without building anything.
/// </summary>
public static class ModelCatalog
{
    public const string DefaultSpec = FashionMnistMlpModel.ModelId;

    public static IReadOnlyList<ModelEntry> Entries { get; } =
    [
        new(FashionMnistMlpModel.ModelId,
            "MLP 784→256→128→10 (ReLU) on Fashion-MNIST, shipped in the repository; trained deterministically on first use and cached",
            FashionMnistMlpModel.DefaultHook,
            ["mlp.hidden1", "mlp.hidden1.pre", "mlp.hidden2", "mlp.hidden2.pre"]),
        new(SyntheticWorld.ModelId,
            "synthetic ground-truth world: 2048 known features in d = 128, Zipf firing, 26 parents with children, correlated groups, noise",
            SyntheticWorld.Hook,
            [SyntheticWorld.Hook]),
        new(ActivationFileModel.Prefix + "PATH",
            "activations from .npy or .safetensors files [N, d] or [N, positions, d], optional labels CSV; no forward pass",
            ActivationFileModel.DefaultHook,
            ["any name (--hook)"]),
        new(HfModelSpec.Prefix + "PATH",
            "a Hugging Face language model on disk (GPT-2, Pythia, Gemma-2, Llama, Qwen2) over packed windows of a local text corpus; " +
            "options ,hook= ,processing= ,context= ,dataset= ,field= ,windows= (see 'saebench models info hf:PATH')",
            "blocks.{layers/2}.hook_resid_post",
            ["blocks.L.hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|attn.hook_z"]),
    ];

    /// <summary>Checks a spec's syntax without building anything; a <see cref="BadInputException"/> names the valid specs.</summary>
    public static void Validate(string spec)
    {
        if (SpecProblem(spec) is { } problem) throw new BadInputException(problem);
    }

    /// <summary>
    /// Everything wrong with a spec and its options that can be seen without building the model (no training, no reading
    /// of activations): the spec's syntax, the files it names, the hook. Empty when nothing is.
    /// </summary>
    public static IReadOnlyList<string> Problems(string spec, ModelOptions options)
    {
        if (SpecProblem(spec) is { } problem) return [problem];
        var problems = new List<string>();
        if (spec.StartsWith(HfModelSpec.Prefix, StringComparison.Ordinal))
        {
            try
            {
                var lm = HfModelSpec.Parse(spec, options);
                var config = HfConfig.Read(Path.Combine(HfSnapshot.ResolveDirectory(lm.Path), "config.json"));
                if (lm.Hook is { } lmHook) new HookCatalog(config).Resolve(lmHook);
                if (lm.Context > config.MaxPositions) problems.Add($"model: context {lm.Context} exceeds the model's {config.MaxPositions} positions.");
                if (lm.Corpus is { } corpus && !File.Exists(corpus.Path)) problems.Add($"model: dataset '{corpus.Path}' does not exist.");
            }
            catch (BadInputException e) { problems.Add(e.Message); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                problems.Add("model: " + e.Message);
            }
            return problems;
        }
        if (spec.StartsWith(ActivationFileModel.Prefix, StringComparison.Ordinal))
        {
            var parts = spec[ActivationFileModel.Prefix.Length..].Split(',');
            var path = RepositoryPaths.Resolve(options, parts[0]);
            if (!File.Exists(path) && !Directory.Exists(path)) problems.Add($"model: activations '{parts[0]}' do not exist (resolved to {path}).");
            foreach (var option in parts.Skip(1))
            {
                var kv = option.Split('=', 2);
                if (kv.Length != 2 || kv[0].Trim() != "labels")
                    problems.Add($"model: unknown option '{option}' in '{spec}' (valid: labels=CSV).");
                else if (!File.Exists(RepositoryPaths.Resolve(options, kv[1].Trim())))
                    problems.Add($"model: labels '{kv[1].Trim()}' do not exist (resolved to {RepositoryPaths.Resolve(options, kv[1].Trim())}).");
            }
            return problems;
        }
        var entry = Entries.First(e => e.Spec == spec);
        if (options.Hook is { } hook && !entry.Hooks.Contains(hook))
            problems.Add($"model_options: hook: " + Core.Configuration.Suggest.UnknownName($"hook of {spec}", hook, entry.Hooks));
        return problems;
    }

    private static string? SpecProblem(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) return $"model: empty model spec. Valid: {ValidText}.";
        if (spec.StartsWith(ActivationFileModel.Prefix, StringComparison.Ordinal))
            return spec.Length == ActivationFileModel.Prefix.Length ? "model: 'file:' needs a path, e.g. file:acts.npy." : null;
        if (spec.StartsWith(HfModelSpec.Prefix, StringComparison.Ordinal))
            return spec.Length == HfModelSpec.Prefix.Length ? "model: 'hf:' needs a path, e.g. hf:models/gpt2." : null;
        if (spec is FashionMnistMlpModel.ModelId or SyntheticWorld.ModelId) return null;
        var near = new[] { FashionMnistMlpModel.ModelId, SyntheticWorld.ModelId }
            .OrderBy(k => k.Contains(spec, StringComparison.OrdinalIgnoreCase) || spec.Contains(k, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenBy(k => Core.Configuration.Suggest.Distance(k, spec)).First();
        return $"model: unknown model '{spec}' (did you mean '{near}'?). Valid: {ValidText}.";
    }

    private static string ValidText => $"{FashionMnistMlpModel.ModelId}, {SyntheticWorld.ModelId}, file:PATH, hf:PATH";

    /// <summary>Builds the model a spec names. With <see cref="ModelOptions.CacheActivations"/> (the default) the
    /// activations of the MLP and the synthetic world go through the on-disk <see cref="ActivationCache"/>.</summary>
    public static IModelUnderStudy Create(string spec, ModelOptions? options = null)
    {
        try
        {
            return CreateUnchecked(spec, options ?? new ModelOptions());
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BadInputException(e.Message, e);
        }
    }

    private static IModelUnderStudy CreateUnchecked(string spec, ModelOptions options)
    {
        Validate(spec);
        if (spec.StartsWith(ActivationFileModel.Prefix, StringComparison.Ordinal))
            return ActivationFileModel.Open(spec[ActivationFileModel.Prefix.Length..], options);
        IModelUnderStudy model = spec.StartsWith(HfModelSpec.Prefix, StringComparison.Ordinal)
            ? LanguageModelUnderStudy.Open(HfModelSpec.Parse(spec, options))
            : spec switch
        {
            FashionMnistMlpModel.ModelId => FashionMnistMlpModel.Load(options),
            _ => CreateSynthetic(options),
        };
        return options.CacheActivations
            ? new CachedModel(model, new ActivationCache(RepositoryPaths.CacheDirectory(options), options.Log))
            : model;
    }

    private static SyntheticWorld CreateSynthetic(ModelOptions options)
    {
        if (options.Hook is not null && options.Hook != SyntheticWorld.Hook)
            throw new ArgumentException($"hook: the synthetic world has one hook, '{SyntheticWorld.Hook}'; got '{options.Hook}'.");
        int forget = options.ForgetClass is null ? 0 : SyntheticWorld.ParseParent(options.Synthetic, options.ForgetClass, "forget_class");
        return new SyntheticWorld(options.Synthetic, forget);
    }
}
