using SaeBench.Core.Checkpoints;

namespace SaeBench.Core.Registry;

/// <summary>
/// One registered checkpoint: a readable id, where it is, its format and the user's tags (architecture, width,
/// target_l0, …, used for grouping in reports). Its content identity, <see cref="Sha256"/>, is computed on first use.
/// </summary>
public sealed class CheckpointEntry
{
    private readonly Lazy<string> _sha256;

    public CheckpointEntry(string id, string path, string format, IReadOnlyDictionary<string, string> tags)
        : this(id, path, format, tags, null)
    {
    }

    internal CheckpointEntry(string id, string path, string format, IReadOnlyDictionary<string, string> tags, CheckpointLayout? layout,
        CheckpointDigestCache? digests = null)
    {
        Id = id;
        Path = path;
        Format = format;
        Tags = tags;
        _sha256 = new Lazy<string>(() => CheckpointHash.GetOrCompute(layout ?? CheckpointLoader.Detect(path), digests));
    }

    public string Id { get; }

    /// <summary>The checkpoint directory (or file, for a lone <c>.pt</c>/<c>.safetensors</c>).</summary>
    public string Path { get; }

    public string Format { get; }
    public IReadOnlyDictionary<string, string> Tags { get; }

    /// <summary>
    /// SHA-256 of the configuration and weight files (see <see cref="CheckpointHash"/>), computed on first use — or
    /// taken from the registry's <see cref="CheckpointDigestCache"/> when the files are unchanged since it was.
    /// </summary>
    public string Sha256 => _sha256.Value;

    public override string ToString() => $"{Id} ({Format}: {Path})";
}

public enum RegistrySeverity
{
    Warning,
    Error,
}

/// <summary>A problem with one registry entry; it never stops the other entries from resolving.</summary>
public sealed record RegistryDiagnostic(RegistrySeverity Severity, string Source, string Field, string Message)
{
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()}: {Source}: {Field}: {Message}";
}

/// <summary>The checkpoints a registry resolved to, with the warnings and errors met on the way.</summary>
public sealed record RegistryResolution(IReadOnlyList<CheckpointEntry> Entries, IReadOnlyList<RegistryDiagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == RegistrySeverity.Error);
}

/// <summary>One item of the <c>checkpoints:</c> list: exactly one of <see cref="Path"/>, <see cref="Glob"/> or <see cref="Pretrained"/>.</summary>
public sealed record CheckpointSpec(string? Path, string? Glob, string? Id, IReadOnlyDictionary<string, string> Tags, string Field,
    PretrainedSaeRef? Pretrained = null);

/// <summary>An SAE named as SAELens names it: a release (or a Hub repo id) and an id in it, found in the Hugging Face cache.</summary>
public sealed record PretrainedSaeRef(string Release, string SaeId);
