namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>One on-disk checkpoint format: recognises its files and maps them onto an SAE plan.</summary>
public interface ICheckpointFormat
{
    string Name { get; }

    /// <summary>The layout when <paramref name="path"/> (a directory or a file in it) holds this format, else null. Reads no tensor data.</summary>
    CheckpointLayout? TryMatch(string path);

    /// <summary>Parses the configuration and the weight file's index; reads only tiny scalar tensors.</summary>
    CheckpointPlan Open(CheckpointLayout layout);
}

/// <summary>The formats this project reads, in detection order.</summary>
public static class CheckpointFormats
{
    public static IReadOnlyList<ICheckpointFormat> Default { get; } =
        [new SaeLensFormat(), new DictionaryLearningFormat(), new SparsifyFormat(), new GemmaScopeFormat(), new BareSafetensorsFormat()];

    internal static float ReadScalar(ITensorSource source, string name)
    {
        source.TryDescribe(name, out var d);
        if (d is null || d.ElementCount != 1)
            throw new CheckpointFormatException(source.File, name, $"expected a single value, found shape {d?.ShapeText ?? "(missing)"}");
        Span<float> one = stackalloc float[1];
        source.Read(name, 0, one);
        return one[0];
    }

    internal static int[] ReadInts(ITensorSource source, string name)
    {
        source.TryDescribe(name, out var d);
        if (d is null || d.Shape.Count > 1 || d.ElementCount > 1_000_000)
            throw new CheckpointFormatException(source.File, name, $"expected a short vector of integers, found shape {d?.ShapeText ?? "(missing)"}");
        var v = new float[d.ElementCount];
        source.Read(name, 0, v);
        return v.Select(x => (int)x).ToArray();
    }

    /// <summary>The layout for a directory holding <paramref name="weights"/> and <paramref name="config"/>, given a directory or one of those files.</summary>
    internal static CheckpointLayout? MatchPair(string format, string path, string weights, string config, params string[] extras)
    {
        string directory;
        if (Directory.Exists(path)) directory = path;
        else if (File.Exists(path) && (Path.GetFileName(path) == weights || Path.GetFileName(path) == config)) directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        else return null;
        string w = Path.Combine(directory, weights), c = Path.Combine(directory, config);
        if (!File.Exists(w) || !File.Exists(c)) return null;
        return new CheckpointLayout(format, path, directory, w, c,
            extras.Select(e => Path.Combine(directory, e)).Where(File.Exists).ToList());
    }
}
