namespace SaeBench.Models.Language.Tests;

/// <summary>Right-padded batching: consecutive sequences fill a batch until the padded size would pass the budget.</summary>
public sealed class TokenBatchTests
{
    private static readonly TransformerConfig Config = RandomTransformer.Gpt2Small with { MaxPositions = 8, EosTokenId = 9, PadTokenId = null };

    [Fact]
    public void Sequences_fill_a_batch_until_the_padded_size_passes_the_budget_and_padding_is_eos_without_a_pad_token()
    {
        int[][] sequences = [[1, 2, 3], [4], [5, 6]];
        var batches = TokenBatch.RightPadded(sequences, maxTokens: 6, Config).ToList();

        Assert.Equal(2, batches.Count);
        // [1,2,3] and [4] padded to 3 (6 tokens); adding [5,6] would make 3 × 3 = 9 > 6.
        Assert.Equal((2, 3, 0), (batches[0].Batch.Batch, batches[0].Batch.Context, batches[0].First));
        Assert.Equal([1, 2, 3, 4, 9, 9], batches[0].Batch.Ids.ToArray());
        Assert.Equal([3, 1], batches[0].Lengths);
        Assert.Equal((1, 2, 2), (batches[1].Batch.Batch, batches[1].Batch.Context, batches[1].First));
        Assert.Equal([5, 6], batches[1].Batch.Ids.ToArray());
    }

    [Fact]
    public void A_sequence_longer_than_the_budget_gets_a_batch_of_its_own_and_the_pad_token_wins_over_eos()
    {
        var config = Config with { PadTokenId = 7 };
        var batches = TokenBatch.RightPadded([[1, 2, 3, 4, 5], [6], [8, 8]], maxTokens: 4, config).ToList();
        Assert.Equal([5, 2], batches.Select(b => b.Batch.Context));
        Assert.Equal([0, 1], batches.Select(b => b.First));
        Assert.Equal([6, 7, 8, 8], batches[1].Batch.Ids.ToArray());
        Assert.Equal([1, 2], batches[1].Lengths);
    }

    [Fact]
    public void Empty_and_too_long_sequences_are_refused_by_index()
    {
        Assert.Contains("Sequence 1 is empty", Assert.Throws<ArgumentException>(() => TokenBatch.RightPadded([[1], []], 10, Config).ToList()).Message);
        Assert.Contains("Sequence 0 has 9 tokens; the model has 8 positions",
            Assert.Throws<ArgumentException>(() => TokenBatch.RightPadded([new int[9]], 100, Config).ToList()).Message);
    }
}
