using SaeBench.Core.Models;
using SaeBench.Models.Common;

namespace SaeBench.Models.Files;

/// <summary>
/// Activations extracted elsewhere, brought as <c>.npy</c> or <c>.safetensors</c> files shaped <c>[N, d]</c> or
/// <c>[N, positions, d]</c>, memory-mapped and streamed. There is no forward pass, so evaluators that need one report
/// "not applicable". Spec: <c>file:PATH[,labels=CSV]</c>, where PATH is
/// <list type="bullet">
/// <item>a directory with <c>train.npy|train.safetensors</c> and <c>test.npy|test.safetensors</c> (labels, if any, in
/// <c>train.labels.csv</c> and <c>test.labels.csv</c>), or</item>
/// <item>one file, whose last <see cref="ModelOptions.FileTestFraction"/> of examples form the test split (labels, if any,
/// in <c>labels=CSV</c> or beside it as <c>STEM.labels.csv</c>).</item>
/// </list>
/// In safetensors, the activations are the tensor <c>activations</c> (or the only tensor); an optional <c>mask</c>
/// tensor <c>[N, positions]</c> (BOOL/U8) marks valid positions. Files holding NaN or ±Inf are refused naming the first
/// position, unless <see cref="ModelOptions.AllowNonFinite"/>. Files may be symbolic links.
/// </summary>
public sealed class ActivationFileModel : IModelUnderStudy, ILabelledTasks
{
    public const string Prefix = "file:";
    public const string DefaultHook = "file";

    private readonly IActivationSource[] _sources;
    private readonly int[][]? _labels;

    private ActivationFileModel(ModelInfo info, IActivationSource[] sources, string[]? classNames, int[][]? labels)
    {
        Info = info;
        _sources = sources;
        _labels = labels;
        Tasks = TaskCatalog.ClassesOnly(classNames ?? []);
    }

    public ModelInfo Info { get; }

    public TaskCatalog Tasks { get; }

    public bool HasLabels => _labels is not null;

    public IActivationSource Activations(Split split) => _sources[(int)split];

    public T? Capability<T>() where T : class =>
        typeof(T) == typeof(ILabelledTasks) && !HasLabels ? null : this as T;

    public ExampleLabels Labels(Split split) =>
        _labels is null
            ? throw new InvalidOperationException($"{Info.Id} has no labels.")
            : new ExampleLabels(_labels[(int)split], 0, []);

    /// <summary>Opens <c>PATH[,labels=CSV]</c> (the part after <c>file:</c>).</summary>
    public static ActivationFileModel Open(string spec, ModelOptions options)
    {
        var parts = spec.Split(',');
        string path = RepositoryPaths.Resolve(options, parts[0]);
        string? labelsPath = null;
        foreach (var option in parts.Skip(1))
        {
            var kv = option.Split('=', 2);
            if (kv.Length == 2 && kv[0].Trim() == "labels") labelsPath = RepositoryPaths.Resolve(options, kv[1].Trim());
            else throw new ArgumentException($"model: unknown file option '{option}' in '{Prefix}{spec}'; valid: labels=CSV.");
        }

        string id = Prefix + Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        string hook = options.Hook ?? DefaultHook;
        IActivationSource[] sources;
        string[][]? texts = null;
        using var hasher = new ContentHasher();
        if (Directory.Exists(path))
        {
            if (labelsPath is not null) throw new ArgumentException($"model: labels=CSV is for a single file; put train.labels.csv and test.labels.csv in {path}.");
            var train = FindSplitFile(path, "train");
            var test = FindSplitFile(path, "test");
            var (trainActs, trainMask) = ReadTensors(train);
            var (testActs, testMask) = ReadTensors(test);
            string trainLabels = Path.Combine(path, "train.labels.csv"), testLabels = Path.Combine(path, "test.labels.csv");
            if (File.Exists(trainLabels) != File.Exists(testLabels))
                throw new InvalidDataException($"{path}: labels for one split only; provide both train.labels.csv and test.labels.csv, or neither.");
            if (File.Exists(trainLabels))
                texts = [LabelsCsv.ReadTexts(trainLabels, trainActs.Shape[0]), LabelsCsv.ReadTexts(testLabels, testActs.Shape[0])];
            var (names, labels) = texts is null ? (null, null) : LabelsCsv.ToClasses(texts);
            sources =
            [
                new MappedActivationSource(Split.Train, trainActs, 0, (int)trainActs.Shape[0], labels?[0], trainMask),
                new MappedActivationSource(Split.Test, testActs, 0, (int)testActs.Shape[0], labels?[1], testMask),
            ];
            if (sources[0].Shape.DModel != sources[1].Shape.DModel || sources[0].Shape.Positions != sources[1].Shape.Positions)
                throw new InvalidDataException(
                    $"{test}: field 'shape' {testActs.ShapeText} does not match the train file's {trainActs.ShapeText} in positions and d.");
            FiniteCheck.Check(trainActs, options);
            FiniteCheck.Check(testActs, options);
            hasher.AddFile(train).AddFile(test);
            if (texts is not null) hasher.AddFile(trainLabels).AddFile(testLabels);
            return Finish(names, labels);
        }
        else
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: activation file not found.", path);
            var (acts, mask) = ReadTensors(path);
            int n = (int)Math.Min(acts.Shape[0], int.MaxValue);
            if (n < 2) throw new InvalidDataException($"{path}: field 'shape' {acts.ShapeText} has fewer than 2 examples; cannot make train and test splits.");
            int nTest = Math.Clamp((int)Math.Round(n * options.FileTestFraction), 1, n - 1);
            labelsPath ??= BesideLabels(path);
            int[][]? labels = null;
            string[]? names = null;
            if (labelsPath is not null)
            {
                var all = LabelsCsv.ReadTexts(labelsPath, n);
                (names, labels) = LabelsCsv.ToClasses([all[..(n - nTest)], all[(n - nTest)..]]);
                hasher.AddFile(labelsPath);
            }
            sources =
            [
                new MappedActivationSource(Split.Train, acts, 0, n - nTest, labels?[0], mask),
                new MappedActivationSource(Split.Test, acts, n - nTest, nTest, labels?[1], mask),
            ];
            FiniteCheck.Check(acts, options);
            hasher.AddFile(path).Add(nTest);
            return Finish(names, labels);
        }

        ActivationFileModel Finish(string[]? names, int[][]? labels)
        {
            var shape = sources[0].Shape;
            hasher.Add(hook);
            var info = new ModelInfo(id, hook, shape.DModel, shape.Positions, hasher.Finish(),
                $"activation files at {path} ({(labels is null ? "unlabelled" : $"{names!.Length} classes")}, no forward pass)");
            return new ActivationFileModel(info, sources, names, labels);
        }
    }

    private static string? BesideLabels(string path)
    {
        string candidate = Path.Combine(Path.GetDirectoryName(path) ?? ".", Path.GetFileNameWithoutExtension(path) + ".labels.csv");
        return File.Exists(candidate) ? candidate : null;
    }

    private static string FindSplitFile(string directory, string split)
    {
        var found = new[] { ".npy", ".safetensors" }.Select(e => Path.Combine(directory, split + e)).Where(File.Exists).ToList();
        return found.Count switch
        {
            1 => found[0],
            0 => throw new FileNotFoundException($"{directory}: no {split}.npy or {split}.safetensors.", Path.Combine(directory, split + ".npy")),
            _ => throw new InvalidDataException($"{directory}: both {split}.npy and {split}.safetensors; keep one."),
        };
    }

    /// <summary>The activations tensor of a file (and its mask, for safetensors).</summary>
    internal static (TensorLayout Activations, TensorLayout? Mask) ReadTensors(string path)
    {
        var (acts, mask) = ReadLayouts(path);
        if (acts.Shape.Length is not (2 or 3))
            throw new InvalidDataException($"{acts.Path}: field 'shape' of '{acts.Name}' is {acts.ShapeText}; expected [N, d] or [N, positions, d].");
        return (acts, mask);
    }

    private static (TensorLayout Activations, TensorLayout? Mask) ReadLayouts(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".npy") return (NpyFile.ReadHeader(path), null);
        if (ext != ".safetensors")
            throw new ArgumentException($"{path}: unsupported activation file type '{ext}'; use .npy or .safetensors.");
        var tensors = SafetensorsActivationFile.ReadHeader(path);
        TensorLayout acts;
        if (tensors.TryGetValue("activations", out var named)) acts = named;
        else
        {
            var floats = tensors.Values.Where(t => t.Type.IsFloat()).ToList();
            acts = floats.Count == 1
                ? floats[0]
                : throw new InvalidDataException(
                    $"{path}: no tensor named 'activations' and {floats.Count} float tensors ({string.Join(", ", tensors.Keys)}); name the activations 'activations'.");
        }
        tensors.TryGetValue("mask", out var mask);
        return (acts, mask);
    }
}
