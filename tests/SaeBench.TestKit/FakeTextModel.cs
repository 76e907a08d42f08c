using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.TestKit;

/// <summary>
/// A language model stand-in for evaluators with their own prompts (<see cref="ITextModel"/>): a vocabulary of words
/// (each token is " word"; id 0 is BOS, id 1 unknown), a whitespace tokenizer, and hook activations that are a fixed
/// embedding of each token whatever its context — so the activation at a word is known exactly. With
/// <see cref="Cumulative"/> the hook at a position is instead the sum of the embeddings up to it (a bag of words, so a
/// prompt's last position sees every word of it); with <see cref="Readout"/> the model has a next-token head: the logit
/// of each vocabulary id is read from the (edited) hook value at the last position, then log-softmaxed.
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

    /// <summary>The hook at a position sums the embeddings of the tokens up to it.</summary>
    public bool Cumulative { get; init; }

    /// <summary>The next-token head: (hook value at the last position, token id) → logit. Null: no head.</summary>
    public Func<float[], int, double>? Readout { get; init; }

    /// <summary>The reader of labelled text and data files the model offers (<see cref="ILabelledTextSource"/>), if any.</summary>
    public ILabelledTextSource? Files { get; init; }

    public ITextTokenizer Tokenizer => this;

    public int MaxSequenceLength => 4096;

    public int VocabularySize => _vocabulary.Length;

    /// <summary>No corpus: empty splits.</summary>
    public IActivationSource Activations(Split split) => new Empty(Info.DModel);

    public T? Capability<T>() where T : class => typeof(T) == typeof(ILabelledTextSource) ? Files as T : this as T;

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
        {
            var sum = new float[Info.DModel];
            foreach (int id in s)
            {
                var e = _embedding(id);
                if (!Cumulative) { e.CopyTo(result.Row(row++)); continue; }
                for (int j = 0; j < sum.Length; j++) sum[j] += e[j];
                sum.CopyTo(result.Row(row++));
            }
        }
        return result;
    }

    public double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null)
    {
        if (Readout is null) throw new NotSupportedException("the fake text model has no next-token head (set Readout)");
        using var hook = HookActivations(sequences);
        var special = sequences.SelectMany(s => s).Select(IsSpecial).ToArray();
        edit?.Edit(hook, special);
        var result = new double[sequences.Count][];
        int end = 0;
        for (int i = 0; i < sequences.Count; i++)
        {
            end += sequences[i].Length;
            var last = hook.Row(end - 1).ToArray();
            var logits = Enumerable.Range(0, VocabularySize).Select(id => Readout(last, id)).ToArray();
            double max = logits.Max();
            double logZ = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            result[i] = candidates.Select(c => logits[c] - logZ).ToArray();
        }
        return result;
    }

    private sealed class Empty(int d) : IActivationSource
    {
        public ActivationShape Shape => new(0, 8, d);

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => [];
    }
}
