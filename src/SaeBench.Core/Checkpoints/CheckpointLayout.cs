namespace SaeBench.Core.Checkpoints;

/// <summary>Which files make up one checkpoint, found from the files present (no tensor data is read).</summary>
/// <param name="Format">Format name: <c>saelens</c>, <c>dictionary_learning</c>, <c>sparsify</c>, <c>gemma_scope</c> or <c>safetensors</c> (a bare weights file).</param>
/// <param name="Path">The path the user gave.</param>
/// <param name="Directory">The checkpoint directory.</param>
/// <param name="WeightFile">The file holding the weights.</param>
/// <param name="ConfigFile">The configuration file, when there is one.</param>
/// <param name="ExtraFiles">Other recognised files (e.g. SAELens <c>sparsity.safetensors</c>).</param>
public sealed record CheckpointLayout(string Format, string Path, string Directory, string WeightFile, string? ConfigFile, IReadOnlyList<string> ExtraFiles)
{
    /// <summary>The files whose bytes define the SAE, in hashing order: configuration first, then weights.</summary>
    public IReadOnlyList<string> IdentityFiles => ConfigFile is null ? [WeightFile] : [ConfigFile, WeightFile];
}

/// <summary>Options for loading a checkpoint.</summary>
/// <param name="AllowNonFinite">Load weights containing NaN or ±Inf (they are reported as warnings) instead of refusing them.</param>
/// <param name="FoldDecoderNorms">Return the equivalent SAE with unit decoder rows (<see cref="Autoencoders.Sae.FoldDecoderNorms"/>).</param>
/// <param name="Digests">Where the SHA-256 and scan of checkpoints already read are remembered; null = read the bytes every time.</param>
public sealed record LoadOptions(bool AllowNonFinite = false, bool FoldDecoderNorms = false, CheckpointDigestCache? Digests = null)
{
    public static LoadOptions Default { get; } = new();
}

/// <summary>How much of a checkpoint <c>inspect</c> reads.</summary>
public enum InspectDepth
{
    /// <summary>Every tensor (non-finite check, decoder norms) and every byte (SHA-256), unless remembered in the digest cache.</summary>
    Full,

    /// <summary>Configuration, tensor index and per-latent vectors only; hash and scan only if remembered.</summary>
    Quick,
}

/// <summary>Where an inspection's hash, decoder norms and non-finite counts came from.</summary>
public enum InspectScan
{
    /// <summary>Every tensor was read now.</summary>
    Full,

    /// <summary>Remembered from an earlier full read of the same, unchanged files.</summary>
    Cached,

    /// <summary>Not read (<see cref="InspectDepth.Quick"/>) and not remembered.</summary>
    Skipped,
}
