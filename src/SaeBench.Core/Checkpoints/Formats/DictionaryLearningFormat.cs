using SaeBench.Core.Checkpoints.Torch;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>
/// dictionary_learning (saprmarks): <c>ae.pt</c> (a <c>torch.save</c>d state dict, read through the restricted unpickler)
/// + <c>config.json</c> whose <c>trainer.dict_class</c> names the architecture. Linear layers are stored in nn.Linear
/// orientation and transposed on load.
/// </summary>
public sealed class DictionaryLearningFormat : ICheckpointFormat
{
    public const string WeightsFile = "ae.pt";
    public const string ConfigFile = "config.json";

    public string Name => "dictionary_learning";

    public CheckpointLayout? TryMatch(string path)
    {
        string? weights = Directory.Exists(path) ? Path.Combine(path, WeightsFile)
            : File.Exists(path) && path.EndsWith(".pt", StringComparison.OrdinalIgnoreCase) ? path
            : File.Exists(path) && Path.GetFileName(path) == ConfigFile ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, WeightsFile)
            : null;
        if (weights is null || !File.Exists(weights)) return null;
        string directory = Path.GetDirectoryName(Path.GetFullPath(weights))!;
        string config = Path.Combine(directory, ConfigFile);
        return new CheckpointLayout(Name, path, directory, weights, File.Exists(config) ? config : null, []);
    }

    public CheckpointPlan Open(CheckpointLayout layout)
    {
        var cfg = layout.ConfigFile is null ? null : JsonConfig.Load(layout.ConfigFile);
        var trainer = cfg?.Section("trainer");
        var source = TorchZipCheckpoint.Open(layout.WeightFile);
        try
        {
            return Plan(layout, source, trainer);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>The storage dtype of the weight matrices (the first 2-d tensor), not of scalars such as <c>k</c> stored before them.</summary>
    private static string WeightDtype(TorchZipCheckpoint source)
    {
        foreach (var name in source.Tensors.Keys)
            if (source.TryDescribe(name, out var d) && d.Shape.Count == 2) return d.DType;
        return "float32";
    }

    private static CheckpointPlan Plan(CheckpointLayout layout, TorchZipCheckpoint source, JsonConfig? trainer)
    {
        var warnings = new List<string>();
        string? dictClass = trainer?.String("dict_class");
        if (dictClass is null)
        {
            dictClass = InferClass(source);
            warnings.Add($"no trainer.dict_class in {ConfigFile}: '{dictClass}' inferred from the tensor names");
        }

        var config = new SaeConfig { Dtype = WeightDtype(source) };
        if (trainer is not null)
        {
            config.ModelName = trainer.String("lm_name");
            config.HookName = trainer.String("submodule_name");
            config.HookLayer = trainer.Int("layer");
            foreach (var (key, value) in trainer.Root)
                if (key is not ("lm_name" or "submodule_name" or "layer")) config.Metadata[key] = value?.DeepClone();
            if (trainer.String("trainer_class") is "PAnnealTrainer") config.ArchitectureName = "p_anneal";
        }

        TensorBinding T(string name) => new(name, Transposed: true);
        TensorBinding N(string name) => new(name);
        string file = Path.GetFileName(layout.ConfigFile ?? layout.WeightFile);

        CheckpointPlan Make(string arch, TensorBinding wEnc, TensorBinding? bEnc, TensorBinding wDec, TensorBinding bDec, bool applyBDec,
            TensorBinding? threshold = null, bool gated = false) => new()
        {
            Layout = layout,
            Source = source,
            Architecture = arch,
            Config = config,
            DIn = trainer?.Int("activation_dim"),
            DSae = trainer?.Int("dict_size"),
            WidthSource = $"{file} trainer.activation_dim/dict_size",
            WEnc = wEnc,
            BEnc = bEnc,
            WDec = wDec,
            BDec = bDec,
            Threshold = threshold,
            BGate = gated ? N("gate_bias") : null,
            RMag = gated ? N("r_mag") : null,
            BMag = gated ? N("mag_bias") : null,
            ApplyBDecToInput = applyBDec,
        };

        CheckpointPlan plan = dictClass switch
        {
            "AutoEncoder" => Make(SaeArchitectures.Relu, T("encoder.weight"), N("encoder.bias"), T("decoder.weight"), N("bias"), true),
            "AutoEncoderNew" => Make(SaeArchitectures.Relu, T("encoder.weight"), N("encoder.bias"), T("decoder.weight"), N("decoder.bias"), false),
            "AutoEncoderTopK" => Make(SaeArchitectures.TopK, T("encoder.weight"), N("encoder.bias"), T("decoder.weight"), N("b_dec"), true),
            "BatchTopKSAE" => Make(SaeArchitectures.BatchTopK, T("encoder.weight"), N("encoder.bias"), T("decoder.weight"), N("b_dec"), true),
            "MatryoshkaBatchTopKSAE" => Make(SaeArchitectures.MatryoshkaBatchTopK, N("W_enc"), N("b_enc"), N("W_dec"), N("b_dec"), true),
            "GatedAutoEncoder" => Make(SaeArchitectures.Gated, T("encoder.weight"), null, T("decoder.weight"), N("decoder_bias"), true, gated: true),
            "JumpReluAutoEncoder" => Make(SaeArchitectures.JumpRelu, N("W_enc"), N("b_enc"), N("W_dec"), N("b_dec"),
                trainer?.Bool("apply_b_dec_to_input") ?? false, threshold: N("threshold")),
            _ => throw (trainer?.Error("dict_class", $"'{dictClass}' is not supported (AutoEncoder, AutoEncoderNew, AutoEncoderTopK, BatchTopKSAE, " +
                                                      "MatryoshkaBatchTopKSAE, GatedAutoEncoder, JumpReluAutoEncoder)")
                        ?? new CheckpointFormatException(layout.WeightFile, null, "cannot tell the architecture from the tensor names")),
        };
        plan.Warnings.AddRange(warnings);

        if (plan.Architecture is SaeArchitectures.TopK or SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK)
        {
            int? k = source.Tensors.ContainsKey("k") ? (int)CheckpointFormats.ReadScalar(source, "k") : trainer?.Int("k");
            if (k is null) throw new CheckpointFormatException(layout.WeightFile, "k", "required tensor is missing (and trainer.k is not in the config)");
            if (trainer?.Int("k") is { } cfgK && cfgK != k)
                plan.Warnings.Add($"trainer.k = {cfgK} in {ConfigFile} differs from the k = {k} tensor; the tensor is used");
            plan.K = k;
        }
        if (plan.Architecture is SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK && source.Tensors.ContainsKey("threshold"))
        {
            float theta = CheckpointFormats.ReadScalar(source, "threshold");
            if (theta >= 0 || !float.IsFinite(theta)) plan.ScalarThreshold = theta;
            else plan.Warnings.Add($"threshold = {theta} means 'not set': inference keeps the top k·B activations of each batch (batch-dependent)");
        }
        if (plan.Architecture == SaeArchitectures.MatryoshkaBatchTopK && source.Tensors.ContainsKey("group_sizes"))
            plan.GroupSizes = CheckpointFormats.ReadInts(source, "group_sizes");
        return plan;
    }

    private static string InferClass(TorchZipCheckpoint source)
    {
        bool Has(string n) => source.Tensors.ContainsKey(n);
        if (Has("gate_bias")) return "GatedAutoEncoder";
        if (Has("W_enc") && Has("group_sizes")) return "MatryoshkaBatchTopKSAE";
        if (Has("W_enc") && Has("threshold")) return "JumpReluAutoEncoder";
        if (Has("k") && Has("threshold")) return "AutoEncoderTopK";
        if (Has("decoder.bias")) return "AutoEncoderNew";
        if (Has("bias")) return "AutoEncoder";
        throw new CheckpointFormatException(source.File, null,
            $"cannot tell the architecture from the tensor names ({string.Join(", ", source.Tensors.Keys)}); add a config.json with trainer.dict_class");
    }
}
