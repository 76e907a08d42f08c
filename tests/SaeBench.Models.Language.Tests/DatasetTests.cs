using SaeBench.Models.Language.Data;

namespace SaeBench.Models.Language.Tests;

/// <summary>Corpus reading (txt, jsonl, parquet), SAELens-style packing, seeded shuffling and the train/test split.</summary>
public sealed class DatasetTests
{
    private static readonly int[][] Documents = [[1, 2, 3], [4, 5, 6, 7, 8, 9], [10], [0, 11, 12, 13, 14, 15, 16], [17, 18]];

    // Expected windows were produced by running SAELens's concat_and_batch_sequences (sae_lens/tokenization_and_batching.py)
    // on the same documents with the same options.
    public static TheoryData<int, int?, int?, int?, int[][]> PackingCases() => new()
    {
        { 5, 0, null, 0, [[0, 1, 2, 3, 0], [0, 4, 5, 6, 7], [0, 8, 9, 0, 10], [0, 11, 12, 13, 14], [0, 15, 16, 0, 17]] },
        { 5, null, null, null, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [0, 11, 12, 13, 14]] },
        { 4, 0, null, null, [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9], [0, 10, 0, 11], [0, 12, 13, 14], [0, 15, 16, 17]] },
        { 4, null, null, 0, [[1, 2, 3, 0], [4, 5, 6, 7], [8, 9, 0, 10], [0, 11, 12, 13], [14, 15, 16, 0]] },
        { 5, 0, 20, 0, [[0, 20, 1, 2, 3], [0, 20, 4, 5, 6], [0, 7, 8, 9, 0], [0, 10, 0, 20, 0], [0, 11, 12, 13, 14], [0, 15, 16, 0, 20]] },
    };

    [Theory]
    [MemberData(nameof(PackingCases))]
    public void Packing_follows_SAELens(int context, int? beginBatch, int? beginSequence, int? separator, int[][] expected)
    {
        var windows = SequencePacker.Pack(Documents, new PackingOptions(context, beginBatch, beginSequence, separator)).ToArray();
        Assert.Equal(expected.Length, windows.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], windows[i]);
    }

    [Fact]
    public void Without_concatenation_each_long_enough_document_gives_one_window()
    {
        var windows = SequencePacker.Pack(Documents, new PackingOptions(4, 99, DisableConcat: true)).ToArray();
        Assert.Equal([[99, 1, 2, 3], [99, 4, 5, 6], [99, 0, 11, 12]], windows);
    }

    [Fact]
    public void A_jsonl_line_with_a_lone_surrogate_is_refused_naming_the_line()
    {
        // Issue 19: reading the string threw InvalidOperationException.
        using var tmp = new TempDirectory();
        File.WriteAllLines(tmp.File("c.jsonl"), ["{\"text\": \"fine\"}", "{\"text\": \"bad \\ud800\"}"]);
        var e = Assert.Throws<InvalidDataException>(() => TextDocuments.Read(new TextSource(tmp.File("c.jsonl"), "text")).ToList());
        Assert.Contains("line 2", e.Message);
        Assert.Contains("not valid Unicode", e.Message);
    }

    [Fact]
    public void Text_jsonl_and_parquet_corpora_read_the_same_documents()
    {
        using var tmp = new TempDirectory();
        string[] docs = ["first document here", "second one, with a comma", "third: ünïcödé and 日本語"];
        File.WriteAllLines(tmp.File("c.txt"), [docs[0], "", docs[1], docs[2]]);
        File.WriteAllLines(tmp.File("c.jsonl"), docs.Select(d => System.Text.Json.JsonSerializer.Serialize(new { body = d, id = 1 })));
        TextDocuments.WriteParquet(tmp.File("c.parquet"), "content", docs);
        Assert.Equal(docs, TextDocuments.Read(new TextSource(tmp.File("c.txt"))));
        Assert.Equal(docs, TextDocuments.Read(new TextSource(tmp.File("c.jsonl"), "body")));
        Assert.Equal(docs, TextDocuments.Read(new TextSource(tmp.File("c.parquet"), "content")));

        var e = Assert.Throws<InvalidDataException>(() => TextDocuments.Read(new TextSource(tmp.File("c.jsonl"), "text")).ToList());
        Assert.Contains("line 1", e.Message);
        Assert.Contains("'text'", e.Message);
        e = Assert.Throws<InvalidDataException>(() => TextDocuments.Read(new TextSource(tmp.File("c.parquet"), "text")).ToList());
        Assert.Contains("column 'text'", e.Message);
        Assert.Contains("content", e.Message);
        Assert.Throws<FileNotFoundException>(() => TextDocuments.Read(new TextSource(tmp.File("missing.txt"))));
    }

    [Fact]
    public void A_tokenized_dataset_packs_shuffles_by_seed_and_splits()
    {
        using var tmp = new TempDirectory();
        var words = "the residual stream of a language model holds features that sparse autoencoders find".Split(' ');
        var lines = Enumerable.Range(0, 200).Select(i => string.Join(' ', Enumerable.Range(0, 3 + i % 7).Select(j => words[(i * 7 + j) % words.Length])));
        File.WriteAllLines(tmp.File("corpus.txt"), lines);
        var config = HfConfig.Read(LmFixtures.PathOf("models/gpt2/config.json"));
        using var tokenizer = LmTokenizer.Load(LmFixtures.PathOf("models/gpt2"), config);
        var packing = PackingOptions.SaeLensDefault(16, prependBos: true, tokenizer.BosTokenId);
        var a = TokenDataset.Build(tokenizer, new TextSource(tmp.File("corpus.txt")), packing, seed: 7, testFraction: 0.25);
        var b = TokenDataset.Build(tokenizer, new TextSource(tmp.File("corpus.txt")), packing, seed: 7, testFraction: 0.25);
        var c = TokenDataset.Build(tokenizer, new TextSource(tmp.File("corpus.txt")), packing, seed: 8, testFraction: 0.25);
        int total = a.Train.Count + a.Test.Count;
        Assert.True(total > 20, $"{total} windows");
        Assert.Equal((int)Math.Round(total * 0.25, MidpointRounding.AwayFromZero), a.Test.Count);
        for (int i = 0; i < a.Train.Count; i++)
        {
            Assert.Equal(299, a.Train.Window(i)[0]);
            Assert.True(a.Train.Window(i).SequenceEqual(b.Train.Window(i)));
        }
        Assert.Contains(Enumerable.Range(0, a.Train.Count), i => !a.Train.Window(i).SequenceEqual(c.Train.Window(i)));
        var batch = a.Train.Batch(0, 3);
        Assert.Equal((3, 16), (batch.Batch, batch.Context));
        Assert.Equal(a.Train.Count, a.Train.Batches(5).Sum(x => x.Batch));

        // The split is in corpus order: the test windows are the last ones packed, whatever the seed.
        var all = TokenWindows.Pack(TextDocuments.Read(new TextSource(tmp.File("corpus.txt"))).Select(t => tokenizer.Encode(t, prependBos: false)), packing);
        var (_, test) = all.Split(0.25);
        var expectedTest = Enumerable.Range(0, test.Count).Select(i => string.Join(",", test.Window(i).ToArray())).OrderBy(s => s);
        var actualTest = Enumerable.Range(0, a.Test.Count).Select(i => string.Join(",", a.Test.Window(i).ToArray())).OrderBy(s => s);
        Assert.Equal(expectedTest, actualTest);
    }
}
