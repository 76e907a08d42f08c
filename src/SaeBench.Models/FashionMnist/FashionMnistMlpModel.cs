using System.Diagnostics;
using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Core.Safetensors;
using SaeBench.Models.Common;
using SaeBench.Models.Files;

namespace SaeBench.Models.FashionMnist;

/// <summary>
/// The embedded default model under study: an MLP classifier (784 → 256 → 128 → 10, ReLU) on Fashion-MNIST, trained
/// deterministically on first use and cached on disk by a hash of the data, architecture, training configuration and
/// trainer version. Hooks: <c>mlp.hidden1</c>/<c>mlp.hidden2</c> (after ReLU) and <c>….pre</c> (before);
/// default <c>mlp.hidden2</c>, 128 wide. Concepts: the 10 classes plus the groups tops and footwear. Attribute:
/// <c>brightness</c> (bright/dark within each class; <see cref="FashionMnistBrightness"/>), for SCR.
/// </summary>
public sealed class FashionMnistMlpModel : IModelUnderStudy, IDownstreamLoss, ILabelledTasks
{
    public const string ModelId = "fashion-mnist-mlp";
    public const string DefaultHook = "mlp.hidden2";

    private readonly string _hook;

    private FashionMnistMlpModel(FashionMnistData data, Mlp network, string hook, int forgetClass, string weightsHash, double testAccuracy)
    {
        Data = data;
        Network = network;
        _hook = hook;
        ForgetClass = forgetClass;
        TestAccuracy = testAccuracy;
        int width = network.HookWidth(hook);
        string hash = ContentHasher.Of(ModelId, weightsHash, data.Hash, hook);
        Info = new ModelInfo(ModelId, hook, width, 1, hash,
            $"MLP {string.Join("→", network.Sizes)} (ReLU) on Fashion-MNIST, hook {hook}", testAccuracy);
        Tasks = new TaskCatalog(FashionMnistClasses.Names, FashionMnistClasses.Hierarchy, forgetClass)
        {
            Attributes = [new ExampleAttribute(FashionMnistBrightness.Name, FashionMnistBrightness.Values)],
        };
        _brightness = new Lazy<(int[] Train, int[] Test)>(() => FashionMnistBrightness.Compute(data));
    }

    private readonly Lazy<(int[] Train, int[] Test)> _brightness;

    public FashionMnistData Data { get; }
    public Mlp Network { get; }
    public int ForgetClass { get; }
    public double TestAccuracy { get; }

    public ModelInfo Info { get; }

    public TaskCatalog Tasks { get; }

    public int LogitWidth => Network.OutputWidth;

    /// <summary>Loads the data, then the cached weights for this configuration, training them first if there are none.</summary>
    public static FashionMnistMlpModel Load(ModelOptions options)
    {
        var data = FashionMnistData.Load(RepositoryPaths.DataDirectory(options));
        return Load(data, options);
    }

    public static FashionMnistMlpModel Load(FashionMnistData data, ModelOptions options)
    {
        var config = options.Mlp;
        config.Validate();
        int forget = FashionMnistClasses.Parse(options.ForgetClass ?? FashionMnistClasses.DefaultForgetClass, "forget_class");
        var (network, weightsHash, accuracy) = LoadOrTrain(data, config, RepositoryPaths.CacheDirectory(options), options.Log);
        var hook = options.Hook ?? DefaultHook;
        network.ParseHook(hook);
        return new FashionMnistMlpModel(data, network, hook, forget, weightsHash, accuracy);
    }

    /// <summary>Cache key of the weights: data, architecture, training configuration, seed and trainer version.</summary>
    public static string WeightsKey(FashionMnistData data, MlpTrainingConfig config) =>
        ContentHasher.Of(MlpTrainer.CodeVersion, data.Hash, config.Canonical());

    private sealed record WeightsMeta(string Key, string CodeVersion, string Config, string DataHash, double TestAccuracy, double TrainSeconds);

    private static (Mlp Network, string WeightsHash, double TestAccuracy) LoadOrTrain(
        FashionMnistData data, MlpTrainingConfig config, string cacheRoot, Action<string>? log)
    {
        string key = WeightsKey(data, config);
        string dir = Path.Combine(cacheRoot, ModelId, key[..16]);
        string weightsPath = Path.Combine(dir, "weights.safetensors");
        string metaPath = Path.Combine(dir, "meta.json");
        int[] sizes = [FashionMnistData.Pixels, .. config.Hidden, FashionMnistClasses.Names.Count];
        if (File.Exists(weightsPath) && File.Exists(metaPath))
        {
            try
            {
                var meta = JsonSerializer.Deserialize<WeightsMeta>(File.ReadAllText(metaPath))
                    ?? throw new InvalidDataException($"{metaPath}: empty.");
                if (meta.Key != key) throw new InvalidDataException($"{metaPath}: field 'Key' does not match this configuration.");
                var network = ReadWeights(weightsPath, sizes);
                return (network, HashWeights(network), meta.TestAccuracy);
            }
            catch (Exception e) when (e is InvalidDataException or JsonException or IOException)
            {
                log?.Invoke($"fashion-mnist-mlp: cached weights unusable ({e.Message}); training again.");
            }
        }

        log?.Invoke($"fashion-mnist-mlp: training {string.Join("→", sizes)} for {config.Epochs} epoch(s) (first use; cached in {dir})");
        var clock = Stopwatch.StartNew();
        var trained = MlpTrainer.Train(data, config, log);
        double seconds = clock.Elapsed.TotalSeconds;
        double accuracy = MlpTrainer.Accuracy(trained, data, Split.Test);
        log?.Invoke($"fashion-mnist-mlp: trained in {seconds:F1} s, test accuracy {accuracy:P2}");

        string temp = dir + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(temp);
        SafetensorsWriter.Write(Path.Combine(temp, "weights.safetensors"),
            trained.Parameters().Select(p => SafetensorsTensor.F32(p.Name, p.Values.ToArray(), p.Shape.Select(s => (long)s).ToArray())).ToList());
        File.WriteAllText(Path.Combine(temp, "meta.json"), JsonSerializer.Serialize(
            new WeightsMeta(key, MlpTrainer.CodeVersion, config.Canonical(), data.Hash, accuracy, seconds),
            new JsonSerializerOptions { WriteIndented = true }));
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(temp, dir);
        }
        catch (IOException)
        {
            // Another process cached the same key meanwhile: same bytes, keep theirs.
            Directory.Delete(temp, recursive: true);
        }
        return (trained, HashWeights(trained), accuracy);
    }

    private static Mlp ReadWeights(string path, int[] sizes)
    {
        var network = new Mlp(sizes, MlpTrainer.DeterministicGemm());
        try
        {
            using var file = Core.Safetensors.SafetensorsFile.Open(path); // one map for every tensor
            foreach (var (name, values, shape) in network.Parameters())
            {
                if (!file.TryGet(name, out var info))
                    throw new InvalidDataException($"{path}: tensor '{name}' is missing.");
                if (info.DType != Core.Safetensors.SafetensorsDType.F32 || !info.Shape.SequenceEqual(shape.Select(s => (long)s)))
                    throw new InvalidDataException($"{path}: tensor '{name}' is {info.DType} {info.ShapeText}, expected F32 [{string.Join(", ", shape)}].");
                file.ReadSingle(name, 0, values.Span);
            }
        }
        catch (Core.Checkpoints.CheckpointFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return network;
    }

    private static string HashWeights(Mlp network)
    {
        using var h = new ContentHasher();
        foreach (var (name, values, _) in network.Parameters()) h.Add(name).Add(values.Span);
        return h.Finish();
    }

    public IActivationSource Activations(Split split) => new Source(this, split);

    public T? Capability<T>() where T : class => this as T;

    public void ForwardFromHook(HostMatrix hookActivations, HostMatrix logits) => Network.ForwardFrom(_hook, hookActivations, logits);

    /// <summary>The network from the hook on, clean and per replacement; the target is the example's class.</summary>
    public DownstreamComparison Compare(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements) =>
        LogitStatistics.ForClassifier(batch, replacements, LogitWidth, ForwardFromHook);

    /// <summary>Logits of the whole network for examples [first, first + logits.Rows) of a split (the clean forward pass).</summary>
    public void Logits(Split split, int first, HostMatrix logits)
    {
        using var x = HostMatrix.Rent(logits.Rows, FashionMnistData.Pixels, clear: false);
        for (int r = 0; r < logits.Rows; r++) MlpTrainer.Pixels(Data.Images(split), first + r, x.Row(r));
        Network.Forward(x, logits);
    }

    public ExampleLabels Labels(Split split)
    {
        var classes = Data.Labels(split).Select(b => (int)b).ToArray();
        var brightness = split == Split.Train ? _brightness.Value.Train : _brightness.Value.Test;
        return ExampleLabels.FromClasses(classes, FashionMnistClasses.Hierarchy.Count,
            c => FashionMnistClasses.Hierarchy.Concepts[c].ParentId is int p ? [c, p] : [c],
            new Dictionary<string, int[]> { [FashionMnistBrightness.Name] = brightness });
    }

    private sealed class Source(FashionMnistMlpModel model, Split split) : IActivationSource
    {
        public ActivationShape Shape { get; } = new(model.Data.Count(split), 1, model.Info.DModel);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
        {
            var images = model.Data.Images(split);
            var labels = model.Data.Labels(split);
            foreach (var (first, count) in BatchPlan.Of(Shape, maxRows, examples))
            {
                var h = HostMatrix.Rent(count, Shape.DModel, clear: false);
                using (var x = HostMatrix.Rent(count, FashionMnistData.Pixels, clear: false))
                {
                    for (int r = 0; r < count; r++) MlpTrainer.Pixels(images, first + r, x.Row(r));
                    model.Network.ForwardTo(model._hook, x, h);
                }
                var y = new int[count];
                for (int r = 0; r < count; r++) y[r] = labels[first + r];
                yield return ActivationBatch.ForExamples(split, h, first, 1, y);
            }
        }
    }
}
