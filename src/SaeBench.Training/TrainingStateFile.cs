using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core.Results;
using SaeBench.Training.Data;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training;

/// <summary>
/// Everything needed to continue an interrupted training run exactly: weights, Adam moments and step count, objective
/// state (dead-latent counters, densities, penalty, p, thresholds), the stream cursor (the RNG position of the data
/// order), the input scale and the running statistics. Written atomically (temp file + rename).
/// <para>Layout: the 8 bytes <c>SAEBTRN1</c>, a little-endian int32 length, that many bytes of UTF-8 JSON (scalars and
/// the list of arrays: name, type f32/f64/i64/i32, length), then the arrays' raw little-endian bytes in that order.</para>
/// </summary>
public sealed class TrainingSnapshot
{
    public required string OptionsHash { get; init; }
    public required float InputScale { get; init; }
    public required StreamCursor Cursor { get; init; }
    public required ParameterSet Parameters { get; init; }
    public required Adam Optimizer { get; init; }
    public required ObjectiveState State { get; init; }
    public required Dictionary<string, double> Statistics { get; init; }
    public double ElapsedSeconds { get; init; }
}

public static class TrainingStateFile
{
    private static readonly byte[] Magic = "SAEBTRN1"u8.ToArray();

    public static void Save(string path, TrainingSnapshot s)
    {
        var arrays = new List<(string Name, string Type, Array Data)>();
        foreach (var (name, t) in s.Parameters.Tensors)
        {
            arrays.Add(("param." + name, "f32", t.ToArray()));
            arrays.Add(("adam_m." + name, "f32", s.Optimizer.First[name].ToArray()));
            arrays.Add(("adam_v." + name, "f32", s.Optimizer.Second[name].ToArray()));
        }
        arrays.Add(("tokens_since_fire", "i64", s.State.TokensSinceFire));
        arrays.Add(("density", "f64", s.State.Density));
        arrays.Add(("latent_threshold", "f32", s.State.LatentThreshold));
        arrays.Add(("capacity", "i32", s.State.Capacity));

        var header = new JsonObject
        {
            ["options_hash"] = s.OptionsHash,
            ["input_scale"] = s.InputScale,
            ["cursor"] = new JsonArray(s.Cursor.Epoch, s.Cursor.Buffer, s.Cursor.Offset),
            ["d_in"] = s.Parameters.DIn,
            ["d_sae"] = s.Parameters.DSae,
            ["adam_updates"] = s.Optimizer.Updates,
            ["step"] = s.State.Step,
            ["tokens"] = s.State.Tokens,
            ["penalty"] = s.State.Penalty,
            ["penalty_scale"] = s.State.PenaltyScale,
            ["p"] = s.State.P,
            ["scalar_threshold"] = double.IsNaN(s.State.ScalarThreshold) ? null : s.State.ScalarThreshold,
            ["elapsed_seconds"] = s.ElapsedSeconds,
            ["statistics"] = new JsonObject(s.Statistics.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["arrays"] = new JsonArray(arrays.Select(a => (JsonNode)new JsonArray(a.Name, a.Type, a.Data.Length)).ToArray()),
        };
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(json.Length);
            w.Write(json);
            foreach (var (_, type, data) in arrays)
            {
                ReadOnlySpan<byte> bytes = type switch
                {
                    "f32" => MemoryMarshal.AsBytes<float>((float[])data),
                    "f64" => MemoryMarshal.AsBytes<double>((double[])data),
                    "i64" => MemoryMarshal.AsBytes<long>((long[])data),
                    _ => MemoryMarshal.AsBytes<int>((int[])data),
                };
                w.Write(bytes);
            }
        });
    }

    /// <summary>Reads a snapshot; <paramref name="createParameters"/> makes the parameter set of the objective.
    /// Null when the file was written for other options (<paramref name="optionsHash"/>): such a file is not resumed
    /// from, whatever its shapes. Throws <see cref="InvalidDataException"/> naming the file when it is not a complete
    /// state file.</summary>
    public static TrainingSnapshot? Load(string path, string optionsHash, Func<ParameterSet> createParameters)
    {
        try
        {
            using var r = new BinaryReader(File.OpenRead(path));
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("not a training state file");
            int len = r.ReadInt32();
            if (len <= 0 || len > 10_000_000) throw new InvalidDataException($"header length {len}");
            var header = JsonNode.Parse(r.ReadBytes(len))!.AsObject();
            if (header["options_hash"]!.GetValue<string>() != optionsHash) return null;
            var p = createParameters();
            var adam = new Adam(p) { Updates = header["adam_updates"]!.GetValue<long>() };
            var state = new ObjectiveState(p.DSae)
            {
                Step = header["step"]!.GetValue<long>(),
                Tokens = header["tokens"]!.GetValue<long>(),
                Penalty = header["penalty"]!.GetValue<double>(),
                PenaltyScale = header["penalty_scale"]!.GetValue<double>(),
                P = header["p"]!.GetValue<double>(),
                ScalarThreshold = header["scalar_threshold"]?.GetValue<double>() ?? double.NaN,
            };
            if (header["d_in"]!.GetValue<int>() != p.DIn || header["d_sae"]!.GetValue<int>() != p.DSae)
                throw new InvalidDataException("shape does not match the configuration");
            foreach (var a in header["arrays"]!.AsArray())
            {
                string name = a![0]!.GetValue<string>(), type = a[1]!.GetValue<string>();
                int n = a[2]!.GetValue<int>();
                Span<byte> target = name switch
                {
                    "tokens_since_fire" => MemoryMarshal.AsBytes(state.TokensSinceFire.AsSpan()),
                    "density" => MemoryMarshal.AsBytes(state.Density.AsSpan()),
                    "latent_threshold" => MemoryMarshal.AsBytes(state.LatentThreshold.AsSpan()),
                    "capacity" => MemoryMarshal.AsBytes(state.Capacity.AsSpan()),
                    _ when name.StartsWith("param.", StringComparison.Ordinal) => MemoryMarshal.AsBytes(p[name[6..]].Span),
                    _ when name.StartsWith("adam_m.", StringComparison.Ordinal) => MemoryMarshal.AsBytes(adam.First[name[7..]].Span),
                    _ when name.StartsWith("adam_v.", StringComparison.Ordinal) => MemoryMarshal.AsBytes(adam.Second[name[7..]].Span),
                    _ => throw new InvalidDataException($"unknown array '{name}'"),
                };
                int size = type switch { "f32" or "i32" => 4, _ => 8 };
                if ((long)n * size != target.Length) throw new InvalidDataException($"array '{name}' has {n} elements, expected {target.Length / size}");
                if (r.Read(target) != target.Length) throw new InvalidDataException($"array '{name}' is truncated");
            }
            var cursor = header["cursor"]!.AsArray();
            return new TrainingSnapshot
            {
                OptionsHash = optionsHash,
                InputScale = header["input_scale"]!.GetValue<float>(),
                Cursor = new StreamCursor(cursor[0]!.GetValue<long>(), cursor[1]!.GetValue<int>(), cursor[2]!.GetValue<int>()),
                Parameters = p,
                Optimizer = adam,
                State = state,
                Statistics = header["statistics"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>()),
                ElapsedSeconds = header["elapsed_seconds"]!.GetValue<double>(),
            };
        }
        catch (Exception e) when (e is JsonException or EndOfStreamException or KeyNotFoundException or NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a readable training state file ({e.Message}).", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}.", e);
        }
    }
}
