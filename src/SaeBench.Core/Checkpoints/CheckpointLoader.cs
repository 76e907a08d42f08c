using SaeBench.Core.Checkpoints.Formats;

namespace SaeBench.Core.Checkpoints;

/// <summary>Finds a checkpoint's format from the files present, then loads or inspects it.</summary>
public static class CheckpointLoader
{
    /// <summary>The layout of the checkpoint at <paramref name="path"/> (a directory or a file in it). Reads no tensor data.</summary>
    public static CheckpointLayout Detect(string path, IReadOnlyList<ICheckpointFormat>? formats = null)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new CheckpointFormatException(path, null, "path does not exist");
        foreach (var format in formats ?? CheckpointFormats.Default)
        {
            var layout = format.TryMatch(path);
            if (layout is not null) return layout;
        }
        throw new CheckpointFormatException(path, null,
            "not a checkpoint: expected cfg.json + sae_weights.safetensors (SAELens), ae.pt (+ config.json) (dictionary_learning), " +
            "cfg.json + sae.safetensors (sparsify), params.npz (Gemma Scope), or a .safetensors weights file");
    }

    /// <summary>True when <paramref name="path"/> is a checkpoint (used by directory scanning).</summary>
    public static bool IsCheckpoint(string path, IReadOnlyList<ICheckpointFormat>? formats = null) =>
        (formats ?? CheckpointFormats.Default).Any(f => f is not BareSafetensorsFormat && f.TryMatch(path) is not null);

    /// <summary>Loads the SAE. Every problem is a <see cref="CheckpointFormatException"/> naming the file and the field.</summary>
    public static LoadedCheckpoint Load(string path, LoadOptions? options = null)
    {
        using var plan = Open(path);
        return CheckpointAssembler.Materialize(plan, options ?? LoadOptions.Default);
    }

    /// <summary>
    /// Describes the checkpoint without materialising it: a full inspection streams its tensors in chunks (memory stays
    /// constant) unless <see cref="LoadOptions.Digests"/> remembers them; a quick one reads no matrix at all.
    /// </summary>
    public static CheckpointInfo Inspect(string path, LoadOptions? options = null, InspectDepth depth = InspectDepth.Full)
    {
        using var plan = Open(path);
        return CheckpointAssembler.Describe(plan, options ?? LoadOptions.Default, depth);
    }

    /// <summary>The plan for the checkpoint: configuration parsed, tensor index read, no matrices loaded.</summary>
    public static CheckpointPlan Open(string path)
    {
        var layout = Detect(path);
        var format = CheckpointFormats.Default.First(f => f.Name == layout.Format);
        return format.Open(layout);
    }
}
