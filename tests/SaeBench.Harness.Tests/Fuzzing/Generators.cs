using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using SaeBench.TestKit;

namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>Seeded generators of inputs from scratch: pickles, YAML, JSON, .npy headers and label CSVs, biased towards the
/// shapes that break loaders (deep nesting, shared and cyclic references, extreme numbers, odd Unicode).</summary>
public static class Generators
{
    private static readonly string[] Scalars =
    [
        "core", "mdl", "topk", "relu", "file", "synthetic", "fashion-mnist-mlp", "acts.npy", "ckpts/*", "**/cfg.json", "0", "-1", "1e999",
        "2147483648", "true", "null", "~", "''", "\"\\ud800\"", "\"a\\0b\"", "x", "hook", "../..", "/", "é", "[]", "{}", "\"\"",
    ];

    private static readonly string[] Keys =
    [
        "model", "model_options", "activations", "labels", "checkpoints", "suite", "evaluators", "backend", "output", "seed",
        "path", "glob", "id", "tags", "options", "hook", "forget_class", "cache_activations", "allow_non_finite", "k_values",
        "widths", "target_l0", "architectures", "seeds", "steps", "lr", "overrides", "baselines", "name", "x",
    ];

    /// <summary>A YAML document: a random tree of mappings and sequences (flow or block), with anchors and aliases.</summary>
    public static string Yaml(Random rng)
    {
        var sb = new StringBuilder();
        var anchors = new List<string>();
        int budget = 200 + rng.Next(2000);
        int maxDepth = rng.Next(5) switch { 0 => 100, 1 => 20, _ => 6 };
        void Node(int depth, int indent)
        {
            budget--;
            int choice = budget <= 0 || depth >= maxDepth ? 0 : rng.Next(10);
            string anchor = rng.Next(6) == 0 ? $"&a{anchors.Count} " : "";
            if (choice <= 3)
            {
                if (anchors.Count > 0 && rng.Next(5) == 0) { sb.Append('*').Append(rng.Pick(anchors)); return; }
                sb.Append(anchor).Append(rng.Pick(Scalars));
            }
            else if (choice <= 6)
            {
                sb.Append(anchor).Append('{');
                int n = rng.Next(5);
                for (int i = 0; i < n; i++)
                {
                    if (i > 0) sb.Append(", ");
                    sb.Append(rng.Next(12) == 0 ? "[k]" : rng.Pick(Keys)).Append(": ");
                    Node(depth + 1, indent);
                }
                sb.Append('}');
            }
            else
            {
                sb.Append(anchor).Append('[');
                int n = rng.Next(5);
                for (int i = 0; i < n; i++)
                {
                    if (i > 0) sb.Append(", ");
                    Node(depth + 1, indent);
                }
                sb.Append(']');
            }
            if (anchor.Length > 0) anchors.Add(anchor[1..^1]);
        }
        int top = 1 + rng.Next(6);
        for (int i = 0; i < top; i++)
        {
            sb.Append(rng.Pick(Keys)).Append(": ");
            Node(1, 2);
            sb.Append('\n');
        }
        if (rng.Next(8) == 0)
        {
            // Nested aliases: each level names the previous one nine times.
            sb.Append("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            int levels = 2 + rng.Next(10);
            for (int i = 1; i < levels; i++) sb.Append($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 9))}]\n");
            sb.Append($"model_options: {{hook: *l{levels - 1}}}\n");
        }
        return sb.ToString();
    }

    /// <summary>A JSON value: a random tree with extreme numbers, odd strings, duplicate keys and deep nesting.</summary>
    public static string Json(Random rng, IReadOnlyList<string> keys)
    {
        var sb = new StringBuilder();
        int budget = 100 + rng.Next(500);
        int maxDepth = rng.Next(6) == 0 ? 80 : 5;
        void Value(int depth)
        {
            budget--;
            int c = budget <= 0 || depth >= maxDepth ? rng.Next(4) : rng.Next(7);
            switch (c)
            {
                case 0: sb.Append(rng.Pick(["0", "-1", "16", "64", "8", "1e999", "-1e999", "1e308", "2147483648", "9223372036854775808", "0.5", "-0"])); break;
                case 1: sb.Append(rng.Pick(["\"topk\"", "\"relu\"", "\"jumprelu\"", "\"gated\"", "\"float32\"", "\"bfloat16\"", "\"\\ud800\"", "\"a\\u0000\"", "\"\"", "\"expected_average_only_in\"", "\"AutoEncoderTopK\""])); break;
                case 2: sb.Append(rng.Pick(["true", "false", "null"])); break;
                case 3: sb.Append('"').Append(new string('x', rng.Next(40))).Append('"'); break;
                case 4 or 5:
                {
                    sb.Append('{');
                    int n = rng.Next(8);
                    for (int i = 0; i < n; i++)
                    {
                        if (i > 0) sb.Append(',');
                        sb.Append('"').Append(rng.Pick(keys)).Append("\":");
                        Value(depth + 1);
                    }
                    sb.Append('}');
                    break;
                }
                default:
                {
                    sb.Append('[');
                    int n = rng.Next(6);
                    for (int i = 0; i < n; i++)
                    {
                        if (i > 0) sb.Append(',');
                        Value(depth + 1);
                    }
                    sb.Append(']');
                    break;
                }
            }
        }
        sb.Append('{');
        int top = rng.Next(10);
        for (int i = 0; i < top; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append('"').Append(rng.Pick(keys)).Append("\":");
            Value(1);
        }
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>A pickle: a random program over the opcodes a state dict uses (and some it must refuse), or a hostile
    /// template (cycles, deep nesting, alias trees, huge declared sizes) with random parameters.</summary>
    public static byte[] Pickle(Random rng)
    {
        var b = new PickleBuilder().Proto(rng.Next(6) == 0 ? rng.Next(7) : 2);
        switch (rng.Next(6))
        {
            case 0: // a dict that contains itself, possibly through others
            {
                int n = 1 + rng.Next(4);
                b.EmptyDict().Put(0);
                for (int i = 1; i < n; i++) b.Str("k" + i).EmptyDict().Put(i);
                b.Str("back").Get(rng.Next(n)).SetItem();
                for (int i = 1; i < n; i++) b.SetItem();
                return b.Stop().ToArray();
            }
            case 1: // deep nesting
            {
                int depth = rng.Next(3) switch { 0 => 99, 1 => 101, _ => 5_000 + rng.Next(100_000) };
                b.EmptyDict();
                for (int i = 0; i < depth; i++)
                    if (rng.Next(3) == 0) b.Str("a").EmptyList(); else b.Str("a").EmptyDict();
                for (int i = 0; i < depth; i++) b.Raw(0x73); // SETITEM (fails cleanly on a list)
                return b.Stop().ToArray();
            }
            case 2: // an alias tree: 2^levels paths through levels + 1 dicts
            {
                int levels = 1 + rng.Next(40);
                b.EmptyDict().Put(0).Pop();
                for (int i = 1; i <= levels; i++) b.EmptyDict().Str("a").Get(i - 1).SetItem().Str("b").Get(i - 1).SetItem().Put(i).Pop();
                return b.EmptyDict().Str("w").Get(levels).SetItem().Stop().ToArray();
            }
            case 3: // a state dict with random tensors, sizes and strides
            {
                b.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
                int n = 1 + rng.Next(4);
                for (int t = 0; t < n; t++)
                {
                    b.Str("w" + t).Global("torch._utils", rng.Next(8) == 0 ? "_rebuild_parameter" : "_rebuild_tensor_v2")
                        .Mark().Mark().Str("storage").Global("torch", rng.Pick(["FloatStorage", "HalfStorage", "LongStorage", "BoolStorage", "Nope"])).Str(rng.Next(4).ToString(CultureInfo.InvariantCulture)).Str("cpu").Int(RandomInt(rng)).Tuple().PersistentId()
                        .Int(RandomInt(rng)).Mark();
                    int dims = rng.Next(4);
                    for (int d = 0; d < dims; d++) b.Int(RandomInt(rng));
                    b.Tuple().Mark();
                    for (int d = 0; d < dims + (rng.Next(5) == 0 ? 1 : 0); d++) b.Int(RandomInt(rng));
                    b.Tuple().Op(0x89).Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
                }
                return b.SetItems().Stop().ToArray();
            }
            default: // random opcodes
            {
                byte[] ops = [.. "}])(tsuae0212NKJMXhqjrRbQ.c"u8.ToArray(), 0x85, 0x86, 0x87, 0x88, 0x89, 0x8c, 0x93, 0x94, 0x95, 0x8a, (byte)'G', (byte)'B', (byte)'C', (byte)'T', (byte)'U', (byte)'i', 0x81, (byte)'o'];
                int n = 5 + rng.Next(200);
                for (int i = 0; i < n; i++)
                {
                    byte op = ops[rng.Next(ops.Length)];
                    b.Op(op);
                    switch ((char)op)
                    {
                        case 'K' or 'h' or 'q': b.Raw((byte)rng.Next(8)); break;
                        case 'M': b.Raw((byte)rng.Next(256), (byte)rng.Next(256)); break;
                        case 'J' or 'j' or 'r' or 'X' or 'B' or 'T':
                        {
                            var arg = new byte[4];
                            BinaryPrimitives.WriteInt32LittleEndian(arg, rng.Next(4) == 0 ? RandomInt(rng) : rng.Next(6));
                            b.Raw(arg);
                            if (op is (byte)'X' or (byte)'B' or (byte)'T') b.Raw(Mutations.RandomBytes(rng, rng.Next(6)));
                            break;
                        }
                        case 'c': b.Raw(Encoding.ASCII.GetBytes(rng.Pick(["collections\nOrderedDict\n", "torch._utils\n_rebuild_tensor_v2\n", "torch\nFloatStorage\n", "os\nsystem\n", "builtins\neval\n"]))); break;
                        default:
                            if (op is 0x8c or 0x8a or (byte)'C' or (byte)'U') b.Raw((byte)rng.Next(12)).Raw(Mutations.RandomBytes(rng, rng.Next(12)));
                            else if (op is 0x95 or (byte)'G') b.Raw(Mutations.RandomBytes(rng, 8));
                            break;
                    }
                }
                return b.Stop().ToArray();
            }
        }
    }

    private static int RandomInt(Random rng) => rng.Next(6) switch
    {
        0 => int.MaxValue,
        1 => -1,
        2 => rng.Next(),
        3 => 1 << rng.Next(31),
        _ => rng.Next(64),
    };

    /// <summary>A .npy header (and some data) with random version, dtype, order and shape.</summary>
    public static byte[] Npy(Random rng)
    {
        string descr = rng.Pick(["<f4", "<f2", "<f8", "<i4", "<i8", "|u1", "|b1", ">f4", "<c8", "O", "<f4"]);
        int dims = rng.Next(5);
        var shape = Enumerable.Range(0, dims).Select(_ => rng.Next(5) switch
        {
            0 => "0",
            1 => rng.Pick(["2147483647", "2147483648", "4611686018427387904", "9223372036854775807", "18446744073709551616", "-1", "1L"]),
            _ => (1 + rng.Next(8)).ToString(CultureInfo.InvariantCulture),
        }).ToList();
        string shapeText = "(" + string.Join(", ", shape) + (dims == 1 ? "," : "") + ")";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {rng.Pick(["False", "True", "0"])}, 'shape': {shapeText}, }}";
        if (rng.Next(6) == 0) dict = dict.Replace("'shape'", "'shape' : ", StringComparison.Ordinal);
        int version = rng.Next(8) == 0 ? rng.Next(5) : 1;
        int pre = version >= 2 ? 12 : 10;
        while ((pre + dict.Length + 1) % 64 != 0) dict += " ";
        dict += "\n";
        var header = Encoding.Latin1.GetBytes(dict);
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)version);
        bytes.Add(0);
        if (version >= 2) bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        else bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        bytes.AddRange(header);
        int data = rng.Next(4) switch { 0 => 0, 1 => rng.Next(16), _ => 4 * (1 + rng.Next(256)) };
        for (int i = 0; i < data / 4; i++)
        {
            float v = rng.Next(40) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => (float)rng.NextDouble() };
            bytes.AddRange(BitConverter.GetBytes(v));
        }
        return bytes.ToArray();
    }

    /// <summary>A labels CSV for <paramref name="rows"/> examples: numeric, text, quoted, huge values, odd row counts.</summary>
    public static string LabelsCsv(Random rng, int rows)
    {
        var sb = new StringBuilder(rng.Pick(["label\n", "id,label\n", "Label,x\n", "\"label\"\n", "x\n", "label,label\n", ""]));
        int n = rng.Next(6) == 0 ? rows + rng.Next(-2, 3) : rows;
        for (int i = 0; i < n; i++)
        {
            string value = rng.Next(8) switch
            {
                0 => rng.Pick(["1000000000", "2147483647", "2147483648", "-1", "99999999999999999999", "0", "007", "1e9"]),
                1 => "\"" + rng.Pick(["cat", "dog, big", "quote\"\"d", "multi\nline", ""]) + "\"",
                2 => rng.Pick(["cat", "dog", "bird", "", " ", "é", "\ufffd"]),
                3 => "\"unterminated",
                _ => rng.Next(4).ToString(CultureInfo.InvariantCulture),
            };
            if (sb.ToString().StartsWith("id,", StringComparison.Ordinal)) sb.Append(i).Append(',');
            sb.Append(value).Append(rng.Next(20) == 0 ? "\r\n" : "\n");
        }
        return sb.ToString();
    }
}
