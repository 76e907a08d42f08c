using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.TestKit;

/// <summary>
/// A language model stand-in for evaluators with their own prompts (<see cref="ITextModel"/>): a vocabulary of words
/// (each token is " word"; id 0 is BOS, id 1 unknown), a whitespace tokenizer, and hook activations that are a fixed
/// embedding of each token whatever its context — so the activation at a word is known exactly.
/// </summary>
public sealed class FakeTextModel : IModelUnderStudy, ITextModel, ITextTokenizer
{
    private readonly string[] _vocabulary;
    private readonly Dictionary<string, int> _ids;
    private readonly Func<int, float[]> _embedding;

    /// <param name="words">The words (without spaces); token id = index + 2.</param>
    /// <param name="dModel">Width of the hook.</param>
    /// <param name="embedding">The hook activation of a token id (the same in every context).</param>
    public FakeTextModel(IReadOnlyList<string> words, int dModel, Func<int, float[]> embedding)
    {
        _vocabulary = ["<bos>", "<unk>", .. words.Select(w => " " + w)];
        _ids = _vocabulary.Select((w, i) => (w, i)).ToDictionary(t => t.w, t => t.i);
        _embedding = embedding;
        Info = new ModelInfo("fake-lm", "fake.hook", dModel, 8, "fake-lm-hash", "fake text model");
    }

    public ModelInfo Info { get; }

    public ITextTokenizer Tokenizer => this;

    public int VocabularySize => _vocabulary.Length;

    /// <summary>No corpus: empty splits.</summary>
    public IActivationSource Activations(Split split) => new Empty(Info.DModel);

    public T? Capability<T>() where T : class => this as T;

    public int IdOf(string word) => _ids[" " + word];

    public int[] Encode(string text, bool? prependBos = null)
    {
        var ids = new List<int>();
        if (prependBos ?? true) ids.Add(0);
        foreach (var piece in text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
            ids.Add(_ids.TryGetValue(" " + piece, out var id) ? id : 1);
        return ids.ToArray();
    }

    public string? TokenText(int id) => id < 2 || id >= _vocabulary.Length ? null : _vocabulary[id];

    public bool IsSpecial(int id) => id == 0;

    public HostMatrix HookActivations(IReadOnlyList<int[]> sequences)
    {
        var result = new HostMatrix(sequences.Sum(s => s.Length), Info.DModel);
        int row = 0;
        foreach (var s in sequences)
            foreach (int id in s) _embedding(id).CopyTo(result.Row(row++));
        return result;
    }

    public double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null) =>
        throw new NotSupportedException("the fake text model has no next-token head");

    private sealed class Empty(int d) : IActivationSource
    {
        public ActivationShape Shape => new(0, 8, d);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
    }
}
