using SaeBench.TestKit;
using System.Buffers.Binary;
using System.Text;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;

namespace SaeBench.Core.Tests.Safetensors;

public class SafetensorsTests
{
    /// <summary>Writes a safetensors file by hand: an 8-byte length, the header text, then <paramref name="dataBytes"/> bytes.</summary>
    private static string Raw(TempDirectory dir, string header, long dataBytes, ulong? declaredLength = null)
    {
        var path = dir.File("t.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        using var s = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, declaredLength ?? (ulong)h.Length);
        s.Write(prefix);
        s.Write(h);
        s.Write(new byte[dataBytes]);
        return path;
    }

    private static CheckpointFormatException Refused(string path) =>
        Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path));

    [Fact]
    public void A_file_shorter_than_the_length_prefix_is_truncated()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("t.safetensors"), [1, 2, 3]);
        var e = Refused(dir.File("t.safetensors"));
        Assert.Contains("truncated", e.Message);
        Assert.Equal("header length", e.Field);
        Assert.Equal(dir.File("t.safetensors"), e.File);
    }

    [Fact]
    public void A_header_running_past_the_end_is_refused()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, "{}", 0, declaredLength: 5000));
        Assert.Contains("runs past the end of the file", e.Message);
    }

    [Fact]
    public void A_header_over_100_MB_is_refused_before_reading_it()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, "{}", 0, declaredLength: 100_000_001));
        Assert.Contains("exceeds the 100 MB limit", e.Message);
    }

    [Fact]
    public void Offsets_past_the_data_are_refused()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8));
        Assert.Equal("a.data_offsets", e.Field);
        Assert.Contains("out of range", e.Message);
    }

    [Fact]
    public void Overlapping_ranges_are_refused()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24));
        Assert.Contains("overlaps tensor 'a'", e.Message);
    }

    [Fact]
    public void Out_of_order_offsets_are_refused()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, """{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}}""", 24));
        Assert.Contains("out of order", e.Message);
    }

    [Fact]
    public void A_byte_count_that_does_not_match_the_shape_is_refused()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, """{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,24]}}""", 24));
        Assert.Equal("a.data_offsets", e.Field);
        Assert.Contains("needs 12", e.Message);
    }

    [Fact]
    public void An_unknown_dtype_is_refused_listing_the_known_ones()
    {
        using var dir = new TempDirectory();
        var e = Refused(Raw(dir, """{"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}""", 1));
        Assert.Equal("a.dtype", e.Field);
        Assert.Contains("BF16", e.Message);
    }

    [Fact]
    public void A_header_that_is_not_json_is_refused()
    {
        using var dir = new TempDirectory();
        Assert.Contains("not valid JSON", Refused(Raw(dir, "{\"a\": [", 0)).Message);
    }

    [Fact]
    public void A_missing_tensor_names_the_tensor_and_lists_the_present_ones()
    {
        using var dir = new TempDirectory();
        var path = dir.File("w.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.F32("a", [1f], 1)]);
        using var f = SafetensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => f.ReadSingle("b"));
        Assert.Equal("b", e.Field);
        Assert.Contains("present: a", e.Message);
    }

    [Fact]
    public void Every_dtype_round_trips_through_the_writer_and_reader()
    {
        using var dir = new TempDirectory();
        var path = dir.File("all.safetensors");
        float[] f32 = [1.5f, -2.25f, 3e-5f, float.MaxValue];
        SafetensorsWriter.Write(path,
        [
            SafetensorsTensor.F32("f32", f32, 2, 2),
            SafetensorsTensor.F64("f64", [1e-300, 0.1], 2),
            SafetensorsTensor.Half("bf16", [1f, -0.5f, 3.140625f], HalfKind.BF16, 3),
            SafetensorsTensor.Half("f16", [1f, -0.5f, 65504f], HalfKind.F16, 3),
            SafetensorsTensor.I64("i64", [-5, 1L << 40], 2),
            SafetensorsTensor.I32("i32", [-7, 9], 2),
            SafetensorsTensor.U8("u8", [0, 255], 2),
            SafetensorsTensor.Bool("bool", [true, false], 2),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(f32, file.ReadSingle("f32"));
        Assert.Equal(new long[] { 2, 2 }, file.Info("f32").Shape);
        Assert.Equal([1e-300, 0.1], file.ReadDouble("f64"));
        Assert.Equal([1f, -0.5f, 3.140625f], file.ReadSingle("bf16"));
        Assert.Equal([1f, -0.5f, 65504f], file.ReadSingle("f16"));
        Assert.Equal([-5L, 1L << 40], file.ReadInt64("i64"));
        Assert.Equal([-7f, 9f], file.ReadSingle("i32"));
        Assert.Equal([0L, 255L], file.ReadInt64("u8"));
        Assert.Equal([1f, 0f], file.ReadSingle("bool"));
        // The header is padded to a multiple of 8 and offsets are contiguous.
        Assert.Equal(0, file.DataStart % 8);
        Assert.Equal(file.FileLength - file.DataStart, file.Tensors[^1].End);
    }

    [Fact]
    public void Bf16_is_widened_by_a_16_bit_shift()
    {
        using var dir = new TempDirectory();
        // 0x3FC0 = 1.5, 0xC120 = -10 in bfloat16.
        var path = Raw(dir, """{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}   """, 0);
        using (var s = new FileStream(path, FileMode.Append)) s.Write([0xC0, 0x3F, 0x20, 0xC1]);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal([1.5f, -10f], f.ReadSingle("w"));
    }

    [Fact]
    public void Opening_a_1_GB_file_reads_only_its_header_and_a_small_tensor_reads_only_itself()
    {
        using var dir = new TempDirectory();
        var path = dir.File("big.safetensors");
        const long big = 1L << 30;
        var header = Encoding.UTF8.GetBytes(
            "{\"W_enc\":{\"dtype\":\"F32\",\"shape\":[16384,16384],\"data_offsets\":[0," + big + "]}," +
            "\"b_dec\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[" + big + "," + (big + 64) + "]}}");
        using (var s = File.Create(path))
        {
            var prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            s.Write(prefix);
            s.Write(header);
            s.SetLength(8 + header.Length + big + 64); // sparse: no gigabyte is written or read
        }
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(0, file.DataBytesRead);
        Assert.Equal(16384L * 16384, file.Info("W_enc").ElementCount);
        Assert.Equal(new float[16], file.ReadSingle("b_dec"));
        Assert.Equal(64, file.DataBytesRead);
        var slice = new float[8];
        file.ReadSingle("W_enc", 123_456_789, slice);
        Assert.Equal(64 + 32, file.DataBytesRead);
    }
}
