using System.Text.Json;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;

namespace SaeBench.Models.Language;

/// <summary>
/// A Hugging Face model snapshot on disk: a folder with <c>config.json</c>, the weights (<c>model.safetensors</c>, or
/// shards listed by <c>model.safetensors.index.json</c>) and usually <c>tokenizer.json</c>. Also opens a Hub cache repo
/// folder (<c>…/hub/models--org--name</c>) by following <c>refs/main</c> (or a given revision) to <c>snapshots/&lt;hash&gt;</c>.
/// Safetensors files are opened lazily and read through memory maps; dispose the snapshot to release them.
/// </summary>
public sealed class HfSnapshot : IDisposable
{
    /// <summary>Weight file name of an unsharded snapshot.</summary>
    public const string SingleWeightsFile = "model.safetensors";

    /// <summary>Index file name of a sharded snapshot.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    private readonly Dictionary<string, string> _fileOfTensor;
    private readonly Dictionary<string, SafetensorsFile> _open = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    private HfSnapshot(string directory, TransformerConfig config, Dictionary<string, string> fileOfTensor, string weightsSource)
    {
        Directory = directory;
        Config = config;
        _fileOfTensor = fileOfTensor;
        WeightsSource = weightsSource;
    }

    /// <summary>The snapshot folder (after resolving a cache repo folder).</summary>
    public string Directory { get; }

    public string ConfigPath => Path.Combine(Directory, "config.json");

    public TransformerConfig Config { get; }

    /// <summary>The index file, or the single weights file, that lists the tensors.</summary>
    public string WeightsSource { get; }

    /// <summary><c>tokenizer.json</c> when the snapshot has one.</summary>
    public string? TokenizerPath => File.Exists(Path.Combine(Directory, "tokenizer.json")) ? Path.Combine(Directory, "tokenizer.json") : null;

    /// <summary>Every tensor name the weights declare.</summary>
    public IReadOnlyCollection<string> TensorNames => _fileOfTensor.Keys;

    /// <summary>
    /// Opens <paramref name="path"/>: a snapshot folder, or a Hub cache repo folder (<c>models--org--name</c>, with
    /// <c>refs/</c> and <c>snapshots/</c>) resolved through <c>refs/&lt;revision&gt;</c>.
    /// </summary>
    public static HfSnapshot Open(string path, string revision = "main")
    {
        string directory = ResolveDirectory(path, revision);
        var config = HfConfig.Read(Path.Combine(directory, "config.json"));
        var (map, source) = ReadWeightMap(directory);
        return new HfSnapshot(directory, config, map, source);
    }

    /// <summary>The snapshot folder <paramref name="path"/> stands for (see <see cref="Open"/>).</summary>
    public static string ResolveDirectory(string path, string revision = "main")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full) && Path.GetFileName(full) == "config.json") full = Path.GetDirectoryName(full)!;
        if (!System.IO.Directory.Exists(full)) throw new DirectoryNotFoundException($"{full}: model folder not found.");
        if (File.Exists(Path.Combine(full, "config.json"))) return full;
        string snapshots = Path.Combine(full, "snapshots");
        if (!System.IO.Directory.Exists(snapshots))
            throw new FileNotFoundException($"{full}: no config.json, and not a Hugging Face cache repo folder (no snapshots/ folder).", Path.Combine(full, "config.json"));
        string reference = Path.Combine(full, "refs", revision);
        string hash;
        if (File.Exists(reference))
        {
            hash = File.ReadAllText(reference).Trim();
            if (hash.Length == 0) throw new InvalidDataException($"{reference}: empty revision reference.");
        }
        else
        {
            var candidates = System.IO.Directory.GetDirectories(snapshots);
            if (System.IO.Directory.Exists(Path.Combine(snapshots, revision))) hash = revision;
            else if (candidates.Length == 1) hash = Path.GetFileName(candidates[0]);
            else
                throw new FileNotFoundException(
                    $"{reference}: no such reference, and {snapshots} holds {candidates.Length} snapshots ({string.Join(", ", candidates.Select(Path.GetFileName))}); pass the snapshot folder itself.",
                    reference);
        }
        string directory = Path.Combine(snapshots, hash);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{reference}: points at snapshot '{hash}', but {directory} does not exist.");
        if (!File.Exists(Path.Combine(directory, "config.json")))
            throw new FileNotFoundException($"{directory}: snapshot has no config.json.", Path.Combine(directory, "config.json"));
        return directory;
    }

    private static (Dictionary<string, string> Map, string Source) ReadWeightMap(string directory)
    {
        string index = Path.Combine(directory, IndexFile);
        string single = Path.Combine(directory, SingleWeightsFile);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(index))
        {
            JsonDocument doc;
            try
            {
                doc = Core.StrictJson.Parse(File.ReadAllBytes(index));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{index}: not valid JSON ({e.Message}).", e);
            }
            using (doc)
            {
                if (!doc.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{index}: field 'weight_map': missing or not an object.");
                foreach (var entry in weightMap.EnumerateObject())
                {
                    if (entry.Value.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"{index}: field 'weight_map.{entry.Name}': expected a shard file name, found {entry.Value.GetRawText()}.");
                    string shard = entry.Value.GetString()!;
                    if (shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                        throw new InvalidDataException($"{index}: field 'weight_map.{entry.Name}': shard '{shard}' must be a file name in the snapshot folder.");
                    map[entry.Name] = Path.Combine(directory, shard);
                }
            }
            foreach (var shard in map.Values.Distinct(StringComparer.Ordinal))
            {
                if (!File.Exists(shard))
                    throw new FileNotFoundException($"{index}: lists shard '{Path.GetFileName(shard)}', which is missing from {directory}.", shard);
            }
            return (map, index);
        }
        if (File.Exists(single))
        {
            using var file = SafetensorsFile.Open(single);
            foreach (var t in file.Tensors) map[t.Name] = single;
            return (map, single);
        }
        string hint = File.Exists(Path.Combine(directory, "pytorch_model.bin")) || File.Exists(Path.Combine(directory, "pytorch_model.bin.index.json"))
            ? " (only PyTorch .bin weights are present; convert them to safetensors)"
            : "";
        throw new FileNotFoundException($"{directory}: no {SingleWeightsFile} or {IndexFile}{hint}.", single);
    }

    /// <summary>True when the weights declare <paramref name="name"/>.</summary>
    public bool Contains(string name) => _fileOfTensor.ContainsKey(name);

    /// <summary>The file holding <paramref name="name"/> and its header entry; a tensor the index lists but the shard lacks is an error.</summary>
    public (SafetensorsFile File, SafetensorsTensorInfo Info) Tensor(string name)
    {
        if (!_fileOfTensor.TryGetValue(name, out var path))
            throw new InvalidDataException($"{WeightsSource}: tensor '{name}' is missing.");
        var file = OpenFile(path);
        if (!file.TryGet(name, out var info))
            throw new InvalidDataException($"{WeightsSource}: lists tensor '{name}' in '{Path.GetFileName(path)}', which does not contain it.");
        return (file, info);
    }

    private SafetensorsFile OpenFile(string path)
    {
        lock (_gate)
        {
            if (_open.TryGetValue(path, out var f)) return f;
            try
            {
                f = SafetensorsFile.Open(path);
            }
            catch (CheckpointFormatException e)
            {
                throw new InvalidDataException(e.Message, e);
            }
            _open[path] = f;
            return f;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var f in _open.Values) f.Dispose();
            _open.Clear();
        }
    }
}
