using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Models;

/// <summary>
/// The text side of a language model under study, for evaluators that build their own inputs — first-letter absorption's
/// prompts, probing on labelled text, unlearning's multiple-choice questions: its tokenizer, and running token
/// sequences to the hook, or on to next-token probabilities with the hook's value edited. Models that are not language
/// models do not have this capability.
/// </summary>
public interface ITextModel
{
    ITextTokenizer Tokenizer { get; }

    /// <summary>The longest sequence the model takes (its positions).</summary>
    int MaxSequenceLength { get; }

    /// <summary>
    /// The activations at the model's hook of every token of every sequence: rows are the sequences in order, each its
    /// tokens in order (<c>Σ lengths × DModel</c>). Each sequence is at most the model's context long.
    /// </summary>
    HostMatrix HookActivations(IReadOnlyList<int[]> sequences);

    /// <summary>
    /// For each sequence, the natural-log probabilities of <paramref name="candidates"/> as the token after its last one.
    /// <paramref name="edit"/>, when given, rewrites the hook's value in place before the rest of the model runs.
    /// </summary>
    double[][] NextTokenLogProbs(IReadOnlyList<int[]> sequences, IReadOnlyList<int> candidates, IHookEdit? edit = null);
}

/// <summary>A language model's tokenizer as evaluators need it.</summary>
public interface ITextTokenizer
{
    int VocabularySize { get; }

    /// <summary>Token ids of <paramref name="text"/>; BOS by the model's rule unless <paramref name="prependBos"/> says otherwise.</summary>
    int[] Encode(string text, bool? prependBos = null);

    /// <summary>The text of one token as it reads in a decoded string (SentencePiece's ▁ as a space), or null for a
    /// special or undecodable token.</summary>
    string? TokenText(int id);

    /// <summary>BOS, EOS and padding: positions that never count (SAEBench masks them before pooling).</summary>
    bool IsSpecial(int id);
}

/// <summary>An intervention at the hook: rewrites the hook's values (rows as in <see cref="ITextModel.HookActivations"/>)
/// of a batch of sequences in place. <paramref name="special"/> marks rows whose token is BOS, EOS or padding.</summary>
public interface IHookEdit
{
    void Edit(HostMatrix hookValues, ReadOnlySpan<bool> special);
}
