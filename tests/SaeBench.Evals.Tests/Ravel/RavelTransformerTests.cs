using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.Ravel;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Models.Language;
using SaeBench.Models.Language.Data;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>
/// A known answer on a real transformer (<see cref="LanguageModel"/>, its generation and its loss gradient), built by hand:
/// one Llama-style layer after the hook (<c>blocks.0.hook_resid_pre</c>, the token embeddings). Its attention has zero
/// queries and keys, so every position averages the RMS-normalised embeddings of its prefix; its MLP is zero. An entity's
/// embedding holds one one-hot block per attribute (France/Spain, Europe/Asia, French/Hindi); each attribute's query word
/// sets its own query dimension. The unembedding reads a value token's logit from its value dimension (×10) plus its
/// attribute's query dimension (×50), and "." from the "answered" dimension that value tokens and "." carry (×200). So
/// the model answers each prompt with the entity's value of the asked attribute, then says ".". An SAE whose latents are the
/// value dimensions lets MDBM swap exactly the cause attribute's block: cause = isolation = 1.
/// </summary>
public sealed class RavelTransformerTests : IDisposable
{
    private const int D = 12;
    private const int Answered = 11;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Values = ["France", "Spain", "Europe", "Asia", "French", "Hindi"];
    private static readonly string[] Queries = ["country", "continent", "language"];

    /// <summary>A word-level model under study over the hand-built transformer.</summary>
    private sealed class HandBuilt : IModelUnderStudy, ITextModel, ITextTokenizer, ILabelledTextSource
    {
        private readonly List<string> _words;
        private readonly LanguageModelInterventions _interventions;
        private readonly string _root;

        public HandBuilt(IReadOnlyList<string> entities, Func<string, float[]> entityEmbedding, string root)
        {
            _root = root;
            _words = ["<bos>", "<unk>", ".", .. Values, .. Queries, .. entities];
            var config = new TransformerConfig
            {
                Family = ModelFamily.Llama,
                ModelType = "llama",
                DModel = D,
                Layers = 1,
                Heads = 1,
                KvHeads = 1,
                HeadDim = D,
                DMlp = 4,
                Vocab = _words.Count,
                MaxPositions = 64,
                Norm = NormKind.RmsNorm,
                NormEps = 1e-6f,
                Activation = PointwiseKind.Silu,
                GatedMlp = true,
                Rotary = new RotarySettings(D, 10000, RopeScaling.None),
                AttentionScale = [1 / MathF.Sqrt(D)],
                SlidingWindow = [0],
            };
            // Random weights give the structure (norm scales 1, no biases); every matrix is then overwritten.
            var w = RandomTransformer.Weights(config, seed: 1);
            var layer = w.Layers[0];
            foreach (var m in new[] { w.Embed, layer.Qkv, layer.Out, layer.MlpIn, layer.MlpOut, w.Unembed }) m.Span.Clear();
            for (int i = 0; i < D; i++)
            {
                layer.Qkv[i, 2 * D + i] = 1; // W_V = I (W_Q = W_K = 0: uniform attention over the prefix)
                layer.Out[i, i] = 1;
            }
            for (int v = 0; v < Values.Length; v++)
            {
                int id = 3 + v;
                w.Embed[id, Answered] = 1;
                w.Unembed[id, v] = 10;           // the value's own dimension
                w.Unembed[id, 6 + v / 2] = 50;   // its attribute's query dimension
            }
            w.Embed[2, Answered] = 1;
            w.Unembed[2, Answered] = 200;
            for (int q = 0; q < Queries.Length; q++) w.Embed[3 + Values.Length + q, 6 + q] = 1;
            w.Embed[0, 9] = 1; // BOS
            w.Embed[1, 10] = 1; // other words
            for (int e = 0; e < entities.Count; e++)
            {
                var row = entityEmbedding(entities[e]);
                for (int i = 0; i < D; i++) w.Embed[3 + Values.Length + Queries.Length + e, i] = row[i];
            }
            Model = new LanguageModel(config, w, backend: CpuBackend.Create());
            _interventions = new LanguageModelInterventions(Model, new HookPoint(0, HookKind.ResidPre), maxBatchTokens: 256);
            Info = new ModelInfo("hand-built", "blocks.0.hook_resid_pre", D, 64, "hand-built-hash", "hand-built transformer");
        }

        public LanguageModel Model { get; }

        public ModelInfo Info { get; }

        public IActivationSource Activations(Split split) => new NoActivations();

        public T? Capability<T>() where T : class => this as T ?? _interventions as T;

        public ITextTokenizer Tokenizer => this;

        public int MaxSequenceLength => 64;

        public int VocabularySize => _words.Count;

        public int[] Encode(string text, bool? prependBos = null)
        {
            var ids = new List<int>();
            if (prependBos ?? true) ids.Add(0);
            foreach (var piece in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int id = _words.IndexOf(piece);
                ids.Add(id >= 3 ? id : 1);
            }
            return ids.ToArray();
        }

        public string? TokenText(int id) => id == 2 ? " ." : id >= 3 && id < _words.Count ? " " + _words[id] : null;

        public bool IsSpecial(int id) => id == 0;

        public HostMatrix HookActivations(IReadOnlyList<int[]> sequences) => throw new NotSupportedException();

        public double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null) => throw new NotSupportedException();

        public LabelledTexts Read(LabelledTextRequest request) => throw new NotSupportedException();

        public IReadOnlyList<JsonObject> Records(string path) => throw new NotSupportedException();

        public JsonNode? JsonFile(string path) => LabelledTextFiles.JsonFile(Path.Combine(_root, path));

        private sealed class NoActivations : IActivationSource
        {
            public ActivationShape Shape => new(0, 8, D);

            public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
        }
    }

    private Core.Evaluation.EvalResult Run(Sae sae, params string[] attributes)
    {
        var cities = new Dictionary<string, Dictionary<string, string>>();
        for (int i = 0; i < 8; i++)
            cities[$"town{i}"] = new()
            {
                ["Country"] = Values[i & 1],
                ["Continent"] = Values[2 + ((i >> 1) & 1)],
                ["Language"] = Values[4 + ((i >> 2) & 1)],
            };
        var prompts = new JsonObject
        {
            ["Country"] = new JsonArray("%s is a town in the country", "the country of %s is", "in the country where %s lies"),
            ["Continent"] = new JsonArray("%s is on the continent", "the continent of %s is", "on which continent is %s"),
            ["Language"] = new JsonArray("in %s the language is", "the language of %s is", "%s speaks the language"),
        };
        File.WriteAllText(_dir.File(RavelData.PromptsFile("city")), prompts.ToJsonString());
        File.WriteAllText(_dir.File(RavelData.AttributesFile("city")), JsonSerializer.Serialize(cities));
        var model = new HandBuilt([.. cities.Keys], city =>
        {
            var row = new float[D];
            foreach (var (_, value) in cities[city]) row[Array.IndexOf(Values, value)] = 1;
            return row;
        }, _dir.Path);

        var evaluator = new RavelEvaluator();
        var options = evaluator.ParseOptions(new JsonObject
        {
            ["data_directory"] = ".",
            ["entity_attribute_selection"] = new JsonObject { ["city"] = new JsonArray(attributes.Select(a => (JsonNode)a).ToArray()) },
            ["llm_batch_size"] = 4,
        });
        var context = EvalFixtures.Context(sae, model);
        var result = SingleJob.Run(evaluator, options, context);
        SaeBenchSchemas.AssertValid("ravel", ResultFiles.Of(evaluator, options, result, context));
        // The model knows every city: every prompt is completed correctly.
        Assert.True((int)result.Unstructured!["entity_types"]!["city"]!["prompts_correct"]! == 24 * attributes.Length, result.Unstructured.ToJsonString());
        return result;
    }

    /// <summary>A ReLU SAE over the hook: latent j reads <c>relu(x·dirs[j] + bias[j])</c> and writes <c>dirs[j]</c>.</summary>
    private static Sae Relu(int[][] dirs, float[] bias)
    {
        var wEnc = new HostMatrix(D, dirs.Length);
        var wDec = new HostMatrix(dirs.Length, D);
        for (int j = 0; j < dirs.Length; j++)
            foreach (int i in dirs[j]) { wEnc[i, j] = 1; wDec[j, i] = 1; }
        return new Sae(SaeArchitectures.Relu, new SaeParameters { WEnc = wEnc, BEnc = bias, WDec = wDec, BDec = new float[D] });
    }

    [Fact]
    public void Latents_aligned_with_the_attributes_score_1_on_a_real_transformer()
    {
        var result = Run(Relu([[0], [1], [2], [3], [4], [5]], new float[6]), "Country", "Continent", "Language");
        Assert.Equal(1.0, result.Get("ravel.cause_score")!.Value, 9);
        Assert.Equal(1.0, result.Get("ravel.isolation_score")!.Value, 9);
        var u = result.Unstructured!["per_entity_attribute"]!;
        Assert.Equal([0, 1], u["city_Country"]!["latents"]!.AsArray().Select(n => (int)n!));
        Assert.Equal([2, 3], u["city_Continent"]!["latents"]!.AsArray().Select(n => (int)n!));
        Assert.Equal([4, 5], u["city_Language"]!["latents"]!.AsArray().Select(n => (int)n!));
    }

    /// <summary>Latents of (country, continent) conjunctions: no mask moves one without the other (see RavelEvaluatorTests).</summary>
    [Fact]
    public void Conjunction_latents_cannot_move_one_attribute_alone_on_a_real_transformer()
    {
        var result = Run(Relu([[0, 2], [1, 3], [0, 3], [1, 2], [4], [5]], [-1, -1, -1, -1, 0, 0]), "Country", "Continent");
        Assert.True(result.Get("ravel.disentanglement_score")!.Value <= 0.75, result.Unstructured!.ToJsonString());
    }
}
