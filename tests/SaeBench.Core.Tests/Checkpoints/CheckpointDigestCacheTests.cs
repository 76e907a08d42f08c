using SaeBench.TestKit;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>
/// Inspection reads a checkpoint's bytes at most once while its files are unchanged, and a quick inspection reads no
/// matrix at all; the digest cache never changes an answer, only how much is read to give it.
/// </summary>
public class CheckpointDigestCacheTests
{
    private static void WriteCfg(string dir, int dIn, int dSae, string architecture = "relu") =>
        File.WriteAllText(Path.Combine(dir, "cfg.json"), new JsonObject
        {
            ["architecture"] = architecture, ["d_in"] = dIn, ["d_sae"] = dSae, ["apply_b_dec_to_input"] = true,
            ["dtype"] = "float32", ["metadata"] = new JsonObject(),
        }.ToJsonString());

    /// <summary>A SAELens v6 checkpoint whose weights are a sparse file of zeros: nothing is written to disk.</summary>
    private static string SparseCheckpoint(TempDirectory dir, int dIn, int dSae)
    {
        WriteCfg(dir.Path, dIn, dSae);
        long matrix = 4L * dIn * dSae;
        long offset = 0;
        string Entry(string name, string shape, long bytes)
        {
            var text = $"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{shape}],\"data_offsets\":[{offset},{offset + bytes}]}}";
            offset += bytes;
            return text;
        }
        var header = Encoding.UTF8.GetBytes("{" + string.Join(",",
            Entry("W_enc", $"{dIn},{dSae}", matrix), Entry("W_dec", $"{dSae},{dIn}", matrix),
            Entry("b_enc", $"{dSae}", 4L * dSae), Entry("b_dec", $"{dIn}", 4L * dIn)) + "}");
        using var s = File.Create(dir.File("sae_weights.safetensors"));
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        s.Write(prefix);
        s.Write(header);
        s.SetLength(8 + header.Length + offset);
        return dir.Path;
    }

    /// <summary>A small dense checkpoint with random weights (decoder norms vary), optionally with a NaN in W_dec.</summary>
    private static string SmallCheckpoint(TempDirectory dir, bool nan = false)
    {
        const int dIn = 8, dSae = 24;
        WriteCfg(dir.Path, dIn, dSae);
        var random = new Random(7);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var wDec = R(dSae * dIn);
        if (nan) wDec[37] = float.NaN;
        SafetensorsWriter.Write(dir.File("sae_weights.safetensors"),
        [
            SafetensorsTensor.F32("W_enc", R(dIn * dSae), dIn, dSae), SafetensorsTensor.F32("W_dec", wDec, dSae, dIn),
            SafetensorsTensor.F32("b_enc", R(dSae), dSae), SafetensorsTensor.F32("b_dec", R(dIn), dIn),
        ]);
        return dir.Path;
    }

    private static LoadOptions With(TempDirectory cache, bool allowNonFinite = false) =>
        new(AllowNonFinite: allowNonFinite, Digests: new CheckpointDigestCache(cache.File("digests")));

    [Trait(Category.Name, Category.Slow)]

    [Fact]
    public void Inspecting_a_1_GB_checkpoint_reads_it_once_then_never_again_and_quick_never_reads_it()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        const int dIn = 8192, dSae = 16384; // W_enc + W_dec = 1 GiB of float32
        var path = SparseCheckpoint(dir, dIn, dSae);
        long fileBytes = new FileInfo(dir.File("sae_weights.safetensors")).Length + new FileInfo(dir.File("cfg.json")).Length;
        Assert.True(fileBytes > 1L << 30);

        var quick = CheckpointLoader.Inspect(path, With(cache), InspectDepth.Quick);
        Assert.Equal(InspectScan.Skipped, quick.Scan);
        Assert.Equal(0, quick.BytesRead);
        Assert.Null(quick.Sha256);
        Assert.Null(quick.DecoderNorms);
        Assert.Equal((dIn, dSae, "relu"), (quick.DIn, quick.DSae, quick.Architecture));

        // The first full inspection reads every tensor byte once and hashes every file byte once (on another thread).
        var first = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Full, first.Scan);
        long tensorBytes = 2L * 4 * dIn * dSae + 4L * (dIn + dSae);
        Assert.Equal(tensorBytes + fileBytes, first.BytesRead);
        Assert.Equal(CheckpointHash.Compute([dir.File("cfg.json"), dir.File("sae_weights.safetensors")]), first.Sha256);
        Assert.Equal(0, first.DecoderNorms!.Max);

        // Again, with a fresh cache object over the same folder (as a new process would): nothing is read.
        var again = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Cached, again.Scan);
        Assert.Equal(0, again.BytesRead);
        Assert.Equal(first.Sha256, again.Sha256);
        Assert.Equal(first.DecoderNorms, again.DecoderNorms);

        // Quick now has everything, still without reading a matrix.
        var quickAgain = CheckpointLoader.Inspect(path, With(cache), InspectDepth.Quick);
        Assert.Equal((InspectScan.Cached, 0L, first.Sha256), (quickAgain.Scan, quickAgain.BytesRead!.Value, quickAgain.Sha256));
    }

    [Fact]
    public void Rows_longer_than_the_streaming_chunk_are_scanned_whole()
    {
        using var dir = new TempDirectory();
        const int dIn = 2, dSae = (1 << 20) + 8; // W_enc rows and b_enc longer than the 2^20-element chunk
        var path = SparseCheckpoint(dir, dIn, dSae);
        var info = CheckpointLoader.Inspect(path);
        Assert.Equal(InspectScan.Full, info.Scan);
        Assert.Equal(dSae, info.DecoderNorms!.Count);
        Assert.Equal(2L * 4 * dIn * dSae + 4L * (dIn + dSae) + new FileInfo(dir.File("sae_weights.safetensors")).Length
                     + new FileInfo(dir.File("cfg.json")).Length, info.BytesRead);
    }

    [Fact]
    public void A_cached_inspection_reports_exactly_what_a_fresh_read_reports()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var fresh = CheckpointLoader.Inspect(path);
        CheckpointLoader.Inspect(path, With(cache));
        var cached = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Cached, cached.Scan);
        Assert.Equal(fresh.Sha256, cached.Sha256);
        Assert.Equal(fresh.DecoderNorms, cached.DecoderNorms);
        Assert.Equal(fresh.NonFinite, cached.NonFinite);
        Assert.True(fresh.DecoderNorms!.Max > fresh.DecoderNorms.Min);
    }

    [Fact]
    public void Loading_remembers_the_scan_so_a_later_inspection_reads_nothing()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var loaded = CheckpointLoader.Load(path, With(cache)).Info;
        var inspected = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Cached, inspected.Scan);
        Assert.Equal(0, inspected.BytesRead);
        Assert.Equal(loaded.Sha256, inspected.Sha256);
        var fresh = CheckpointLoader.Inspect(path);
        Assert.Equal(fresh.DecoderNorms, inspected.DecoderNorms);
    }

    [Fact]
    public void Folding_on_load_does_not_leak_folded_norms_into_the_remembered_scan()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var folded = CheckpointLoader.Load(path, With(cache) with { FoldDecoderNorms = true }).Info;
        Assert.Equal(1, folded.DecoderNorms!.Max, 5);
        var inspected = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(CheckpointLoader.Inspect(path).DecoderNorms, inspected.DecoderNorms);
        Assert.NotEqual(1, inspected.DecoderNorms!.Max, 5);
    }

    [Fact]
    public void Changed_files_are_read_again()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var weights = dir.File("sae_weights.safetensors");
        var original = CheckpointLoader.Inspect(path, With(cache));

        // Same size, same modification time, different bytes: caught by the sampled head/tail hash.
        var stamp = File.GetLastWriteTimeUtc(weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[^8] ^= 0x01; // lowest mantissa bit of a b_dec element
        File.WriteAllBytes(weights, bytes);
        File.SetLastWriteTimeUtc(weights, stamp);
        var edited = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Full, edited.Scan);
        Assert.NotEqual(original.Sha256, edited.Sha256);
        Assert.Equal(CheckpointLoader.Inspect(path).Sha256, edited.Sha256);

        // Only the modification time changes: read again (same answer).
        File.SetLastWriteTimeUtc(weights, stamp.AddSeconds(1));
        Assert.Equal(InspectScan.Full, CheckpointLoader.Inspect(path, With(cache)).Scan);

        // The configuration is part of the identity too.
        File.WriteAllText(dir.File("cfg.json"), File.ReadAllText(dir.File("cfg.json")).Replace("\"relu\"", "\"standard\""));
        var renamed = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Full, renamed.Scan);
        Assert.NotEqual(edited.Sha256, renamed.Sha256);
    }

    [Fact]
    public void Remembered_non_finite_weights_are_still_refused_unless_allowed()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir, nan: true);
        var fresh = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(path));
        Assert.Contains("W_dec", fresh.Message);
        Assert.Contains("element 37", fresh.Message);

        var allowed = CheckpointLoader.Inspect(path, With(cache, allowNonFinite: true));
        Assert.Equal(1, allowed.NonFinite["W_dec"]);
        var refused = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(path, With(cache)));
        Assert.Equal(fresh.Message, refused.Message);
        var allowedAgain = CheckpointLoader.Inspect(path, With(cache, allowNonFinite: true));
        Assert.Equal(InspectScan.Cached, allowedAgain.Scan);
        Assert.Equal(allowed.NonFinite, allowedAgain.NonFinite);
        Assert.Equal(allowed.Warnings, allowedAgain.Warnings);
    }

    [Fact]
    public void A_remembered_hash_is_used_without_reading_the_files()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var layout = CheckpointLoader.Detect(path);
        var digests = new CheckpointDigestCache(cache.File("digests"));
        string real = CheckpointHash.GetOrCompute(layout, digests);
        Assert.Equal(CheckpointHash.Compute(layout.IdentityFiles), real);

        // Plant a different hash in the stored entry: if it comes back, the files were not hashed again.
        var entry = Assert.Single(Directory.GetFiles(digests.Directory, "*.json"));
        File.WriteAllText(entry, File.ReadAllText(entry).Replace(real, new string('f', 64)));
        Assert.Equal(new string('f', 64), CheckpointHash.GetOrCompute(layout, new CheckpointDigestCache(digests.Directory)));
        Assert.Equal(new string('f', 64), SaeBench.Core.Registry.CheckpointRegistry.ScanDirectory(path).Resolve(digests).Entries.Single().Sha256);
    }

    [Fact]
    public void A_corrupt_entry_or_an_unwritable_cache_folder_is_a_miss_not_an_error()
    {
        using var dir = new TempDirectory();
        using var cache = new TempDirectory();
        var path = SmallCheckpoint(dir);
        var expected = CheckpointLoader.Inspect(path);
        CheckpointLoader.Inspect(path, With(cache));
        foreach (var entry in Directory.GetFiles(cache.File("digests"), "*.json")) File.WriteAllText(entry, "{ not json");
        var afterCorruption = CheckpointLoader.Inspect(path, With(cache));
        Assert.Equal(InspectScan.Full, afterCorruption.Scan);
        Assert.Equal(expected.Sha256, afterCorruption.Sha256);

        File.WriteAllText(cache.File("a-file"), "");
        var unwritable = new LoadOptions(Digests: new CheckpointDigestCache(cache.File("a-file")));
        Assert.Equal(expected.Sha256, CheckpointLoader.Inspect(path, unwritable).Sha256);
        Assert.Equal(expected.Sha256, CheckpointLoader.Load(path, unwritable).Info.Sha256);
    }
}
