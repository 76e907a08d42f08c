using System.Text;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.HuggingFace;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Core.Registry;

/// <summary>
/// The checkpoints a run evaluates, from the <c>checkpoints:</c> section of a YAML config:
/// <code>
/// checkpoints:
///   - path: runs/topk_4k            # a checkpoint, or a directory scanned for checkpoints
///     id: topk-4k                   # optional; default: derived from the path
///     tags: {architecture: topk, width: 4096, target_l0: 32}
///   - glob: "sweeps/**/cfg.json"    # every match that is (or is in) a checkpoint
///   - runs/relu_4k                  # a bare string is a path
///   - release: gpt2-small-res-jb    # a SAELens release and an id in it, found in the Hugging Face cache
///     sae_id: blocks.8.hook_resid_pre
///   - release: google/gemma-scope-2b-pt-res          # a Hub repo id: sae_id is the folder in the repo
///     sae_id: layer_12/width_16k/average_l0_82
/// </code>
/// Relative paths are relative to the config file's directory. Releases are looked up in <see cref="SaeLensReleases"/> and
/// found in the local Hugging Face cache (<see cref="HfHubCache"/>, whose root comes from the environment variables given
/// to <see cref="Resolve"/>); nothing is downloaded. A release entry resolves to an ordinary entry on the snapshot folder,
/// tagged <c>release</c> and <c>sae_id</c>. Parsing errors (unknown keys, wrong types) are
/// <see cref="CheckpointFormatException"/>s; resolution problems become diagnostics so one bad entry never hides the others.
/// </summary>
public sealed class CheckpointRegistry
{
    public const string SectionName = "checkpoints";
    private static readonly string[] Keys = ["path", "glob", "release", "sae_id", "id", "tags"];

    /// <summary>Tags a release entry gets from its <c>release:</c> and <c>sae_id:</c>.</summary>
    public const string ReleaseTag = "release", SaeIdTag = "sae_id";
    private const int MaxScanDepth = 12;

    private CheckpointRegistry(IReadOnlyList<CheckpointSpec> specs, string baseDirectory, string source)
    {
        Specs = specs;
        BaseDirectory = baseDirectory;
        Source = source;
    }

    public IReadOnlyList<CheckpointSpec> Specs { get; }
    public string BaseDirectory { get; }

    /// <summary>Where the specs came from (the config file), for messages.</summary>
    public string Source { get; }

    /// <summary>Reads the <c>checkpoints:</c> section of a YAML config file.</summary>
    public static CheckpointRegistry FromFile(string configPath)
    {
        if (!File.Exists(configPath)) throw new CheckpointFormatException(configPath, null, "config file does not exist");
        var text = Configuration.YamlJson.ReadFile(configPath, problem => new CheckpointFormatException(configPath, null, problem));
        return FromYaml(text, Path.GetDirectoryName(Path.GetFullPath(configPath))!, configPath);
    }

    /// <summary>Parses YAML text: a document with a top-level <c>checkpoints:</c> key, or the list itself.</summary>
    public static CheckpointRegistry FromYaml(string yaml, string baseDirectory, string source = "<yaml>")
    {
        var root = Configuration.YamlJson.LoadRoot(yaml, p => new CheckpointFormatException(source, $"line {p.Line}", $"not valid YAML ({p.Message})"));
        if (root is null) return new CheckpointRegistry([], baseDirectory, source);
        if (root is YamlMappingNode map)
        {
            if (!map.Children.TryGetValue(new YamlScalarNode(SectionName), out var section))
                throw new CheckpointFormatException(source, SectionName, "the config has no 'checkpoints:' section");
            return FromNode(section, baseDirectory, source);
        }
        return FromNode(root, baseDirectory, source);
    }

    /// <summary>Parses the <c>checkpoints:</c> node of a config another component has already loaded.</summary>
    public static CheckpointRegistry FromNode(YamlNode node, string baseDirectory, string source)
    {
        if (node is YamlScalarNode { Value: null or "" or "~" or "null" }) return new CheckpointRegistry([], baseDirectory, source);
        if (node is not YamlSequenceNode list)
            throw new CheckpointFormatException(source, $"{SectionName} (line {node.Start.Line})", "must be a list of entries with path:, glob: or release:");
        var specs = new List<CheckpointSpec>();
        for (int i = 0; i < list.Children.Count; i++) specs.Add(ParseSpec(list.Children[i], $"{SectionName}[{i}]", source));
        return new CheckpointRegistry(specs, baseDirectory, source);
    }

    /// <summary>A registry that scans <paramref name="directory"/> for checkpoints (no config file needed).</summary>
    public static CheckpointRegistry ScanDirectory(string directory) =>
        new([new CheckpointSpec(directory, null, null, new Dictionary<string, string>(), "scan")], directory, directory);

    private static CheckpointSpec ParseSpec(YamlNode node, string field, string source)
    {
        string where = $"{field} (line {node.Start.Line})";
        if (node is YamlScalarNode { Value: { Length: > 0 } bare }) return new CheckpointSpec(bare, null, null, new Dictionary<string, string>(), field);
        if (node is not YamlMappingNode map)
            throw new CheckpointFormatException(source, where, "must be a path or a mapping with path:, glob: or release:");
        string? path = null, glob = null, release = null, saeId = null, id = null;
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? "";
            switch (key)
            {
                case "path": path = Scalar(value, $"{field}.path", source); break;
                case "glob": glob = Scalar(value, $"{field}.glob", source); break;
                case "release": release = Scalar(value, $"{field}.release", source); break;
                case "sae_id": saeId = Scalar(value, $"{field}.sae_id", source); break;
                case "id": id = Scalar(value, $"{field}.id", source); break;
                case "tags":
                    if (value is not YamlMappingNode tagMap)
                        throw new CheckpointFormatException(source, $"{field}.tags (line {value.Start.Line})", "must be a mapping of names to values");
                    foreach (var (tk, tv) in tagMap.Children)
                    {
                        string name = (tk as YamlScalarNode)?.Value ?? throw new CheckpointFormatException(source, $"{field}.tags", "tag names must be strings");
                        tags[name] = Scalar(tv, $"{field}.tags.{name}", source);
                    }
                    break;
                default:
                    throw new CheckpointFormatException(source, $"{field}.{key} (line {keyNode.Start.Line})",
                        $"unknown key '{key}' (valid: {string.Join(", ", Keys)})");
            }
        }
        if ((path is null ? 0 : 1) + (glob is null ? 0 : 1) + (release is null ? 0 : 1) != 1)
            throw new CheckpointFormatException(source, where, "needs exactly one of path: or glob: (or release: with sae_id:)");
        if (saeId is not null && release is null)
            throw new CheckpointFormatException(source, $"{field}.sae_id", "goes with release: (a SAELens release or a Hugging Face repo id)");
        if (id is not null && !IsValidId(id))
            throw new CheckpointFormatException(source, $"{field}.id", $"'{id}' may use only letters, digits, '.', '_' and '-'");
        PretrainedSaeRef? pretrained = null;
        if (release is not null)
        {
            if (saeId is null)
                throw new CheckpointFormatException(source, where, "release: needs sae_id: (the SAE's id in the release, or its folder in the repo)");
            foreach (var reserved in new[] { ReleaseTag, SaeIdTag })
                if (tags.ContainsKey(reserved))
                    throw new CheckpointFormatException(source, $"{field}.tags.{reserved}", "is set from release: and sae_id:; choose another tag name");
            tags[ReleaseTag] = release;
            tags[SaeIdTag] = saeId;
            pretrained = new PretrainedSaeRef(release, saeId);
        }
        return new CheckpointSpec(path, glob, id, tags, field, pretrained);
    }

    private static string Scalar(YamlNode node, string field, string source) =>
        node is YamlScalarNode { Value: { } v } && v.Length > 0
            ? v
            : throw new CheckpointFormatException(source, $"{field} (line {node.Start.Line})", "must be a non-empty string or number");

    private static bool IsValidId(string id) => id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>
    /// Resolves every entry to checkpoints. A missing path is an error and a glob matching nothing a warning; neither
    /// stops the rest. <paramref name="digests"/>, when given, spares re-hashing checkpoints whose files are unchanged.
    /// <paramref name="variables"/> are the environment variables that locate the Hugging Face cache for <c>release:</c>
    /// entries (<see cref="HfHubCache.RootFrom"/>); without them such entries are errors.
    /// </summary>
    public RegistryResolution Resolve(CheckpointDigestCache? digests = null, Func<string, string?>? variables = null)
    {
        var entries = new List<CheckpointEntry>();
        var diagnostics = new List<RegistryDiagnostic>();
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        var seenFiles = new Dictionary<string, string>(StringComparer.Ordinal);

        void Add(CheckpointSpec spec, CheckpointLayout layout, string autoId)
        {
            // The same checkpoint reached by two paths (a symbolic link and its target) is one checkpoint.
            string weights = (RealPath.Of(layout.Directory) ?? Path.GetFullPath(layout.Directory)) + "\n" +
                             (RealPath.Of(layout.WeightFile) ?? Path.GetFullPath(layout.WeightFile));
            if (seenFiles.TryGetValue(weights, out var earlier))
            {
                diagnostics.Add(new(RegistrySeverity.Warning, Source, spec.Field, $"{layout.Path} is already registered as '{earlier}'; listed once"));
                return;
            }
            string id = spec.Id is null ? autoId : spec.Glob is null && autoId == "" ? spec.Id : spec.Id + (autoId == "" ? "" : "-" + autoId);
            if (id == "") id = Sanitize(Path.GetFileName(Path.GetFullPath(layout.Directory)));
            if (byId.TryGetValue(id, out var other))
            {
                diagnostics.Add(new(RegistrySeverity.Error, Source, spec.Field, $"id '{id}' is already used by {other}; set a distinct id:"));
                return;
            }
            byId[id] = layout.Path;
            seenFiles[weights] = id;
            entries.Add(new CheckpointEntry(id, layout.Path, layout.Format, spec.Tags, layout, digests));
        }

        foreach (var spec in Specs)
        {
            try
            {
                if (spec.Pretrained is not null) ResolveRelease(spec, variables, Add, diagnostics);
                else if (spec.Path is not null) ResolvePath(spec, Add, diagnostics);
                else ResolveGlob(spec, Add, diagnostics);
            }
            catch (Exception e) when (e is CheckpointFormatException or IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(new(RegistrySeverity.Error, Source, spec.Field, e.Message));
            }
            catch (ArgumentException e) // a glob that cannot match (Glob says why), a path the file system cannot take
            {
                diagnostics.Add(new(RegistrySeverity.Error, Source, spec.Glob is null ? $"{spec.Field}.path" : $"{spec.Field}.glob", e.Message));
            }
        }
        return new RegistryResolution(entries, diagnostics);
    }

    private void ResolvePath(CheckpointSpec spec, Action<CheckpointSpec, CheckpointLayout, string> add, List<RegistryDiagnostic> diagnostics)
    {
        string full = Path.GetFullPath(Path.Combine(BaseDirectory, spec.Path!));
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            diagnostics.Add(new(RegistrySeverity.Error, Source, $"{spec.Field}.path", $"'{spec.Path}' does not exist (resolved to {full})"));
            return;
        }
        if (CheckpointLoader.IsCheckpoint(full) || File.Exists(full))
        {
            add(spec, CheckpointLoader.Detect(full), spec.Id is null ? AutoId(full, BaseDirectory) : "");
            return;
        }
        var found = Scan(full, diagnostics, spec.Field);
        if (found.Count == 0)
            diagnostics.Add(new(RegistrySeverity.Warning, Source, $"{spec.Field}.path", $"no checkpoints found under '{spec.Path}'"));
        foreach (var dir in found) add(spec, CheckpointLoader.Detect(dir), AutoId(dir, full));
    }

    /// <summary>
    /// A <c>release:</c> entry: the release table gives the repo and folder, the Hugging Face cache the snapshot; the
    /// folder must hold the files the release's loader reads (any checkpoint, for a repo id).
    /// </summary>
    private void ResolveRelease(CheckpointSpec spec, Func<string, string?>? variables, Action<CheckpointSpec, CheckpointLayout, string> add,
        List<RegistryDiagnostic> diagnostics)
    {
        var (release, saeId) = spec.Pretrained!;
        void Error(string key, string message) => diagnostics.Add(new(RegistrySeverity.Error, Source, $"{spec.Field}.{key}", message));
        PretrainedSaeLocation location;
        try
        {
            location = SaeLensReleases.Locate(release, saeId);
        }
        catch (PretrainedSaeException e)
        {
            Error(e.Key, e.Message);
            return;
        }
        var cache = variables is null ? null : HfHubCache.FromEnvironment(variables);
        if (cache is null)
        {
            Error("release", variables is null
                ? "release: entries are found in the Hugging Face cache, but no environment variables were given to locate it (HF_HUB_CACHE, HF_HOME or HOME)"
                : "cannot locate the Hugging Face cache: HF_HUB_CACHE, HF_HOME and HOME are all unset (nothing is downloaded)");
            return;
        }
        string snapshot;
        try
        {
            snapshot = cache.SnapshotFolder(location.RepoId);
        }
        catch (HfCacheMissException e)
        {
            Error("release", $"{e.Message} Nothing is downloaded: fetch '{location.RepoId}' (at least {location.Folder}/) into this cache first.");
            return;
        }
        string target = Path.Combine(snapshot, location.Folder.Replace('/', Path.DirectorySeparatorChar));
        string What() => $"(release {release}, sae_id {saeId}; nothing is downloaded)";
        foreach (var file in location.Files ?? [])
        {
            string expected = Path.Combine(target, file);
            if (Readable(expected, out string? link)) continue;
            Error("sae_id", link is null
                ? $"Hugging Face cache {cache.Root}: snapshot {snapshot} has no {location.Folder}/{file}; expected {expected} {What()}"
                : $"Hugging Face cache {cache.Root}: {expected} is a link to {link}, which is missing (an incomplete download?) {What()}");
            return;
        }
        if (location.Files is null && !File.Exists(target) && !CheckpointLoader.IsCheckpoint(target))
        {
            // A repo id names no loader: any format the loaders detect will do.
            Error("sae_id", Directory.Exists(target)
                ? $"Hugging Face cache {cache.Root}: {target} is not a checkpoint: expected cfg.json + sae_weights.safetensors (SAELens), " +
                  $"params.npz (Gemma Scope), ae.pt + config.json (dictionary_learning) or cfg.json + sae.safetensors (sparsify) {What()}"
                : $"Hugging Face cache {cache.Root}: snapshot {snapshot} has no {location.Folder}; expected {target} {What()}");
            return;
        }
        if (location.Note is { } note) diagnostics.Add(new(RegistrySeverity.Warning, Source, $"{spec.Field}.release", $"{release}: {note}"));
        add(spec, CheckpointLoader.Detect(target), spec.Id is null ? Sanitize($"{release}/{saeId}".Replace('/', '-')) : "");
    }

    /// <summary>
    /// True for a file whose bytes can be read: a plain file, or a symlink (the Hub cache links snapshots into blobs/)
    /// whose final target exists; <paramref name="brokenLink"/> is the target of a link whose target is gone.
    /// </summary>
    private static bool Readable(string path, out string? brokenLink)
    {
        brokenLink = null;
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not { } link) return info.Exists;
            if (info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true }) return true;
            brokenLink = link;
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void ResolveGlob(CheckpointSpec spec, Action<CheckpointSpec, CheckpointLayout, string> add, List<RegistryDiagnostic> diagnostics)
    {
        var matches = Glob.Match(spec.Glob!, BaseDirectory);
        if (matches.Count == 0)
        {
            diagnostics.Add(new(RegistrySeverity.Warning, Source, $"{spec.Field}.glob", $"'{spec.Glob}' matches nothing (relative to {BaseDirectory})"));
            return;
        }
        var layouts = new List<CheckpointLayout>();
        foreach (var match in matches)
        {
            CheckpointLayout? layout = null;
            try
            {
                if (Directory.Exists(match) && !CheckpointLoader.IsCheckpoint(match)) layout = null;
                else layout = CheckpointLoader.Detect(match);
            }
            catch (CheckpointFormatException)
            {
            }
            if (layout is null)
            {
                diagnostics.Add(new(RegistrySeverity.Warning, Source, $"{spec.Field}.glob", $"'{match}' matched but is not a checkpoint; skipped"));
                continue;
            }
            if (layouts.All(l => l.WeightFile != layout.WeightFile)) layouts.Add(layout);
        }
        foreach (var layout in layouts)
        {
            string path = layout.Format == "dictionary_learning" && Path.GetFileName(layout.WeightFile) != "ae.pt"
                ? layout.WeightFile
                : layout.Directory;
            add(spec, layout, AutoId(path, BaseDirectory));
        }
    }

    /// <summary>Checkpoint directories under <paramref name="root"/> (a checkpoint directory is not descended into). Symbolic
    /// links are followed, each real directory visited once, so a link loop ends.</summary>
    private List<string> Scan(string root, List<RegistryDiagnostic> diagnostics, string field)
    {
        var found = new List<string>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string dir, int depth)
        {
            if (RealPath.Of(dir) is not { } real || !visited.Add(real)) return;
            if (visited.Count > Glob.MaxDirectories)
                throw new ArgumentException($"'{root}' holds more than {Glob.MaxDirectories} directories to scan; point at the folder that holds the checkpoints");
            if (CheckpointLoader.IsCheckpoint(dir))
            {
                found.Add(dir);
                return;
            }
            if (depth >= MaxScanDepth) return;
            string[] subdirectories;
            try
            {
                subdirectories = Directory.GetDirectories(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(new(RegistrySeverity.Warning, Source, field, $"cannot list '{dir}': {e.Message}"));
                return;
            }
            foreach (var sub in subdirectories.Order(StringComparer.Ordinal)) Visit(sub, depth + 1);
        }
        Visit(root, 0);
        return found;
    }

    /// <summary>A readable, file-name-safe id from a path relative to <paramref name="relativeTo"/>: separators become '-'.</summary>
    public static string AutoId(string path, string relativeTo)
    {
        string full = Path.GetFullPath(path);
        string name = File.Exists(full) && Path.GetFileName(full) is "ae.pt" or "cfg.json" or "config.json" or "sae_weights.safetensors" or "sae.safetensors" or "params.npz"
            ? Path.GetDirectoryName(full)!
            : full;
        string relative = Path.GetRelativePath(Path.GetFullPath(relativeTo), name);
        if (relative == "." || relative.StartsWith("..", StringComparison.Ordinal)) relative = Path.GetFileName(name);
        if (File.Exists(name)) relative = Path.ChangeExtension(relative, null);
        return Sanitize(relative.Replace('\\', '/').Replace('/', '-'));
    }

    private static string Sanitize(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_');
        return sb.ToString().Trim('-');
    }
}
