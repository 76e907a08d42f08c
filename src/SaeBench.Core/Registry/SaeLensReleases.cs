using System.Text.RegularExpressions;
using SaeBench.Core.Configuration;

namespace SaeBench.Core.Registry;

/// <summary>The SAELens loader a release names (its <c>conversion_func</c>); it decides which files the SAE's folder holds.</summary>
public enum SaeLensLoader
{
    /// <summary><c>sae_lens</c>: <c>cfg.json</c> + <c>sae_weights.safetensors</c> (read by <see cref="Checkpoints.Formats.SaeLensFormat"/>).</summary>
    SaeLens,

    /// <summary><c>gemma_2</c>: <c>params.npz</c> (read by <see cref="Checkpoints.Formats.GemmaScopeFormat"/>).</summary>
    Gemma2,

    /// <summary><c>dictionary_learning_1</c>: <c>ae.pt</c> + <c>config.json</c> (read by <see cref="Checkpoints.Formats.DictionaryLearningFormat"/>).</summary>
    DictionaryLearning1,
}

/// <summary>
/// One SAELens release this harness knows: its Hub repo, the model it was trained on, its loader, and the rule from a
/// <c>sae_id</c> to the folder in the repo (null when the id is not one of the release's).
/// </summary>
/// <param name="Ids">The release's ids, as a pattern for messages.</param>
/// <param name="Note">Something SAELens does for this release that reading the files alone does not (said as a warning).</param>
public sealed record SaeLensRelease(string Name, string RepoId, string Model, SaeLensLoader Loader, string Ids, Func<string, string?> FolderOf, string? Note = null);

/// <summary>Where a release's SAE is in the Hub: the repo, the folder in it and the files to expect there (null = any format the loaders detect).</summary>
public sealed record PretrainedSaeLocation(string Release, string SaeId, string RepoId, string Folder, IReadOnlyList<string>? Files, string? Note);

/// <summary>A <c>release:</c> / <c>sae_id:</c> pair that names no SAE; <see cref="Key"/> is the entry key at fault.</summary>
public sealed class PretrainedSaeException(string key, string message) : BadInputException(message)
{
    public string Key { get; } = key;
}

/// <summary>
/// The SAELens pretrained releases this harness can find in a Hugging Face cache. The facts (repo ids, loaders, and the
/// folder of every id) are those of SAELens's <c>sae_lens/pretrained_saes.yaml</c> (version 6.18.0): where the yaml lists
/// each id with its path, the rule here reproduces every listed path; ids the yaml does not list resolve to folders that
/// simply are not in the cache. A release name with a '/' is a Hub repo id and its <c>sae_id</c> the folder in the repo,
/// as in SAELens — except that here the format is detected from the files rather than assumed to be SAELens's.
/// </summary>
public static partial class SaeLensReleases
{
    private const string GemmaWidths = "4k|16k|32k|65k|131k|262k|524k|1m";

    public static IReadOnlyList<SaeLensRelease> BuiltIn { get; } = Build();

    /// <summary>The files the loader reads from the SAE's folder.</summary>
    public static IReadOnlyList<string> FilesOf(SaeLensLoader loader) => loader switch
    {
        SaeLensLoader.SaeLens => ["cfg.json", "sae_weights.safetensors"],
        SaeLensLoader.Gemma2 => ["params.npz"],
        SaeLensLoader.DictionaryLearning1 => ["ae.pt", "config.json"],
        _ => throw new ArgumentOutOfRangeException(nameof(loader)),
    };

    /// <summary>
    /// The repo and folder of <paramref name="saeId"/> in <paramref name="release"/>. An unknown release, an id the
    /// release does not have, a <c>-canonical</c> release or a folder leaving the repo is a <see cref="PretrainedSaeException"/>.
    /// </summary>
    public static PretrainedSaeLocation Locate(string release, string saeId, IReadOnlyList<SaeLensRelease>? releases = null)
    {
        releases ??= BuiltIn;
        var known = releases.FirstOrDefault(r => r.Name == release);
        if (known is null && release.Contains('/'))
        {
            if (!HuggingFace.HfHubCache.IsRepoId(release))
                throw new PretrainedSaeException("release", $"'{release}' is neither a known release nor a Hugging Face repo id (org/name)");
            return new PretrainedSaeLocation(release, saeId, release, FolderInRepo(saeId), null, null);
        }
        if (known is null)
        {
            if (release.EndsWith("-canonical", StringComparison.Ordinal) && release.StartsWith("gemma-scope-", StringComparison.Ordinal))
            {
                string repo = "google/" + release[..^"-canonical".Length];
                string layerWidth = CanonicalIdPattern().Match(saeId) is { Success: true } m ? m.Groups[1].Value : "layer_12/width_16k";
                throw new PretrainedSaeException("release",
                    $"'{release}' maps each sae_id to one chosen folder through SAELens's per-id table, which this harness does not carry; " +
                    $"give the concrete folder with the repo-id form instead: release: {repo}, sae_id: {layerWidth}/average_l0_<N> " +
                    "(e.g. average_l0_82; the folders are listed in the repo)");
            }
            throw new PretrainedSaeException("release",
                Suggest.UnknownName("SAELens release", release, releases.Select(r => r.Name)) +
                " Or give a Hugging Face repo id (org/name) as release: and the folder in it as sae_id:.");
        }
        string folder = known.FolderOf(saeId)
                        ?? throw new PretrainedSaeException("sae_id", $"'{saeId}' is not an id of the release '{release}' (its ids: {known.Ids})");
        return new PretrainedSaeLocation(release, saeId, known.RepoId, folder, FilesOf(known.Loader), known.Note);
    }

    /// <summary>A folder (or file) inside a repo, as given: relative, '/'-separated, never leaving the repo.</summary>
    private static string FolderInRepo(string saeId)
    {
        string folder = saeId.Trim().TrimEnd('/');
        if (folder.Length == 0 || folder.StartsWith('/') || folder.Contains('\\') || folder.Contains(':')
            || folder.Split('/').Any(s => s is "" or "." or ".."))
            throw new PretrainedSaeException("sae_id", $"'{saeId}' must be a folder inside the repo ('/'-separated, no '..', not absolute)");
        return folder;
    }

    private static List<SaeLensRelease> Build()
    {
        var list = new List<SaeLensRelease>
        {
            new("gpt2-small-res-jb", "jbloom/GPT2-Small-SAEs-Reformatted", "gpt2-small", SaeLensLoader.SaeLens,
                "blocks.{0..11}.hook_resid_pre, blocks.11.hook_resid_post",
                id => Gpt2SmallResJb().Match(id) is { Success: true } m && int.Parse(m.Groups[1].Value) is var layer
                      && (m.Groups[2].Value == "pre" ? layer <= 11 : layer == 11) ? id : null,
                "SAELens loads this release with config_overrides model_from_pretrained_kwargs: {center_writing_weights: true} (its SAEs were " +
                "trained on a centred GPT-2); the cfg.json in the cache is read as written, so load the model with processing=center_writing_weights"),
            new("pythia-70m-deduped-res-sm", "ctigges/pythia-70m-deduped__res-sm_processed", "pythia-70m-deduped", SaeLensLoader.SaeLens,
                "blocks.0.hook_resid_pre, blocks.{0..5}.hook_resid_post",
                id => id == "blocks.0.hook_resid_pre" ? "e-res-sm"
                    : PythiaResidPost().Match(id) is { Success: true } m && int.Parse(m.Groups[1].Value) <= 5 ? $"{m.Groups[1].Value}-res-sm"
                    : null),
            GemmaScope("gemma-scope-2b-pt-res", "gemma-2-2b", layers: 26, embedding: true),
            GemmaScope("gemma-scope-2b-pt-mlp", "gemma-2-2b", layers: 26, embedding: false),
            GemmaScope("gemma-scope-2b-pt-att", "gemma-2-2b", layers: 26, embedding: false),
            GemmaScope("gemma-scope-9b-pt-res", "gemma-2-9b", layers: 42, embedding: true),
        };
        foreach (var sweep in new[] { "standard_ctx128_0712", "gated_ctx128_0730", "panneal_ctx128_0730", "topk_ctx128_0730" })
            list.Add(SaeBench($"pythia70m_sweep_{sweep}", "canrager/lm_sae", "pythia-70m-deduped", [3, 4], steps: false));
        foreach (var arch in new[] { "topk", "vanilla" })
        foreach (int width in new[] { 12, 14, 16 })
            list.Add(SaeBench($"gemma-2-2b_{arch}_width-2pow{width}_date-1109", $"canrager/saebench_gemma-2-2b_width-2pow{width}_date-1109",
                "gemma-2-2b", [5, 12, 19], steps: width != 16));
        return list;
    }

    /// <summary>Gemma Scope: the id is the folder, <c>layer_L/width_W/average_l0_N</c> (or <c>embedding/width_W/average_l0_N</c>).</summary>
    private static SaeLensRelease GemmaScope(string name, string model, int layers, bool embedding)
    {
        var pattern = new Regex($@"^(?:layer_(\d{{1,3}})|(embedding))/width_(?:{GemmaWidths})/average_l0_\d+$", RegexOptions.CultureInvariant);
        return new SaeLensRelease(name, "google/" + name, model, SaeLensLoader.Gemma2,
            $"layer_{{0..{layers - 1}}}/width_<{GemmaWidths.Replace('|', ',')}>/average_l0_<N>" + (embedding ? ", embedding/width_4k/average_l0_<N>" : ""),
            id => pattern.Match(id) is { Success: true } m && (m.Groups[2].Success ? embedding : int.Parse(m.Groups[1].Value) < layers) ? id : null);
    }

    /// <summary>
    /// SAEBench's dictionary_learning sweeps: <c>blocks.L.hook_resid_post__trainer_i</c> → <c>&lt;sweep&gt;/resid_post_layer_L/trainer_i</c>,
    /// and (where the release has them) <c>…__trainer_i_step_s</c> → <c>&lt;sweep&gt;/resid_post_layer_L_checkpoints/trainer_i_step_s</c>.
    /// </summary>
    private static SaeLensRelease SaeBench(string sweep, string repo, string model, int[] layers, bool steps) =>
        new("sae_bench_" + sweep, repo, model, SaeLensLoader.DictionaryLearning1,
            $"blocks.{{{string.Join(',', layers)}}}.hook_resid_post__trainer_<i>" + (steps ? ", blocks.L.hook_resid_post__trainer_<i>_step_<s>" : ""),
            id =>
            {
                var m = SaeBenchId().Match(id);
                if (!m.Success || !layers.Contains(int.Parse(m.Groups[1].Value))) return null;
                if (!m.Groups[3].Success) return $"{sweep}/resid_post_layer_{m.Groups[1].Value}/trainer_{m.Groups[2].Value}";
                return steps ? $"{sweep}/resid_post_layer_{m.Groups[1].Value}_checkpoints/trainer_{m.Groups[2].Value}_step_{m.Groups[3].Value}" : null;
            });

    [GeneratedRegex(@"^blocks\.(\d{1,2})\.hook_resid_(pre|post)$")]
    private static partial Regex Gpt2SmallResJb();

    [GeneratedRegex(@"^blocks\.(\d)\.hook_resid_post$")]
    private static partial Regex PythiaResidPost();

    [GeneratedRegex(@"^blocks\.(\d{1,2})\.hook_resid_post__trainer_(\d{1,3})(?:_step_(\d{1,9}))?$")]
    private static partial Regex SaeBenchId();

    [GeneratedRegex(@"^((?:layer_\d+|embedding)/width_\w+)/canonical$")]
    private static partial Regex CanonicalIdPattern();
}
