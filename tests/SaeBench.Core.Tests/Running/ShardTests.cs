using SaeBench.Core.Running;

namespace SaeBench.Core.Tests.Running;

public class ShardTests
{
    [Fact]
    public void Shards_partition_checkpoints_exactly()
    {
        const int n = 3;
        var shards = Enumerable.Range(1, n).Select(i => Shard.Parse($"{i}/{n}")).ToArray();
        for (int c = 0; c < 20; c++) Assert.Single(shards, s => s.Contains(c));
    }

    [Theory]
    [InlineData("0/2")]
    [InlineData("3/2")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("-1/2")]
    public void Bad_shard_specs_are_rejected(string text) => Assert.Throws<FormatException>(() => Shard.Parse(text));

    [Fact]
    public void Job_key_changes_with_every_input()
    {
        string K(string c = "c", string e = "core", string v = "1", string o = "o", string m = "m", int seed = 0, string code = "asm:1") =>
            JobKey.Compute(c, e, v, o, m, seed, code);
        var k = K();
        Assert.NotEqual(k, K(c: "c2"));
        Assert.NotEqual(k, K(e: "mdl"));
        Assert.NotEqual(k, K(v: "2"));
        Assert.NotEqual(k, K(o: "o2"));
        Assert.NotEqual(k, K(m: "m2"));
        Assert.NotEqual(k, K(seed: 1));
        Assert.NotEqual(k, K(code: "asm:2"));
        Assert.Equal(k, K());
    }
}
