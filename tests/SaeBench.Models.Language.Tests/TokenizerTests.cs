namespace SaeBench.Models.Language.Tests;

/// <summary>tokenizer.json through Tokenizers.DotNet: the manifest's ids, and the per-family BOS rule.</summary>
public sealed class TokenizerTests
{
    public static TheoryData<string> TokenizerNames()
    {
        var data = new TheoryData<string>();
        foreach (var t in LmFixtures.Tokenizers()) data.Add(t.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(TokenizerNames))]
    public void Ids_and_decoded_text_equal_the_manifest(string name)
    {
        var t = LmFixtures.Tokenizers().Single(x => x.Name == name);
        using var tokenizer = LmTokenizer.Load(LmFixtures.PathOf(t.Path));
        Assert.NotEmpty(t.Cases);
        foreach (var c in t.Cases)
        {
            var ids = tokenizer.EncodeRaw(c.Text);
            Assert.True(c.Ids.SequenceEqual(ids), $"{name} '{c.Text}': [{string.Join(",", ids)}] != [{string.Join(",", c.Ids)}]");
            Assert.Equal(c.Decoded, tokenizer.Decode(ids));
        }
    }

    [Theory]
    [MemberData(nameof(FixtureForwardTests.Models), MemberType = typeof(FixtureForwardTests))]
    public void The_family_rule_reproduces_the_fixture_batch(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var config = HfConfig.Read(Path.Combine(m.Directory, "config.json"));
        using var tokenizer = LmTokenizer.Load(m.Directory, config);
        var ids = tokenizer.Encode(m.Row0Text);
        var row0 = expected.Tokens().Row(0).ToArray();
        Assert.Equal(row0, ids.Take(m.Context).ToArray());
        Assert.Equal(m.Family is "gpt2" or "gemma2" or "llama", tokenizer.DefaultPrependBos);
    }

    [Fact]
    public void Prepend_bos_overrides_the_family_default_both_ways()
    {
        var gemmaConfig = HfConfig.Read(LmFixtures.PathOf("models/gemma2/config.json"));
        using var gemma = LmTokenizer.Load(LmFixtures.PathOf("models/gemma2"), gemmaConfig);
        Assert.True(gemma.PostProcessorAddsBos);
        Assert.Equal(2, gemma.Encode("Hello world")[0]);
        Assert.Equal(gemma.EncodeRaw("Hello world")[1..], gemma.Encode("Hello world", prependBos: false));

        var gpt2Config = HfConfig.Read(LmFixtures.PathOf("models/gpt2/config.json"));
        using var gpt2 = LmTokenizer.Load(LmFixtures.PathOf("models/gpt2"), gpt2Config);
        Assert.False(gpt2.PostProcessorAddsBos);
        Assert.Equal([299, .. gpt2.EncodeRaw("Hello world")], gpt2.Encode("Hello world"));
        Assert.Equal(gpt2.EncodeRaw("Hello world"), gpt2.Encode("Hello world", prependBos: false));

        var pythiaConfig = HfConfig.Read(LmFixtures.PathOf("models/pythia/config.json"));
        using var pythia = LmTokenizer.Load(LmFixtures.PathOf("models/pythia"), pythiaConfig);
        Assert.Equal(pythia.EncodeRaw("Hello world"), pythia.Encode("Hello world"));
        Assert.Equal(299, pythia.Encode("Hello world", prependBos: true)[0]);
    }

    [Fact]
    public void A_missing_tokenizer_json_is_a_clear_error()
    {
        using var tmp = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => LmTokenizer.Load(tmp.Path));
        Assert.Contains("tokenizer.json", e.Message);
        File.WriteAllText(tmp.File("tokenizer.json"), "{ not a tokenizer");
        var bad = Assert.Throws<InvalidDataException>(() => LmTokenizer.Load(tmp.File("tokenizer.json")));
        Assert.Contains("tokenizer.json", bad.Message);
    }
}
