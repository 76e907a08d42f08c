using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>
/// Seeded mutations of bytes and text: bit flips, interesting bytes, insertions, deletions, duplicated and spliced
/// chunks, truncation, and for text also numbers replaced by extreme ones, deep nesting, lone surrogate escapes and
/// invalid UTF-8.
/// </summary>
public static partial class Mutations
{
    private static readonly byte[] InterestingBytes = [0, 1, 0x7F, 0x80, 0xFF, (byte)'{', (byte)'}', (byte)'[', (byte)'"', (byte)'\\', (byte)'\n', (byte)':', (byte)',', (byte)'&', (byte)'*', (byte)'.', (byte)'(', (byte)'q', (byte)'h'];

    private static readonly string[] InterestingNumbers =
    [
        "0", "-1", "1", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483648", "4294967296",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615", "1e999", "-1e999",
        "1e308", "1e-400", "NaN", "Infinity", "0.5", "1000000000", "4611686018427387904", "99999999999999999999999999",
    ];

    private static readonly string[] InterestingText =
    [
        "\\ud800", "\\udfff", "\\u0000", "\u0000", "&a", "*a", "&a [*a, *a]", "!!binary", "? [a]\n: b", "<<: *a", "\r\n",
        "'", "\"", "${x}", "../../..", "/dev/zero", "\ufffd", "é", "\t", "---\n", "...\n", "%YAML 1.2\n", "{a: 1, a: 2}",
    ];

    /// <summary>1–4 byte-level mutations of <paramref name="data"/> (the input is not changed).</summary>
    public static byte[] Bytes(byte[] data, Random rng, IReadOnlyList<byte[]>? splice = null)
    {
        var b = new List<byte>(data);
        int n = 1 + rng.Next(4);
        for (int k = 0; k < n; k++)
        {
            int at = b.Count == 0 ? 0 : rng.Next(b.Count);
            switch (rng.Next(9))
            {
                case 0 when b.Count > 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when b.Count > 0: b[at] = (byte)rng.Next(256); break;
                case 2 when b.Count > 0: b[at] = InterestingBytes[rng.Next(InterestingBytes.Length)]; break;
                case 3: b.InsertRange(at, RandomBytes(rng, 1 + rng.Next(16))); break;
                case 4 when b.Count > 0: b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(32))); break;
                case 5 when b.Count > 0:
                {
                    int from = rng.Next(b.Count), len = Math.Min(b.Count - from, 1 + rng.Next(64));
                    var chunk = b.GetRange(from, len);
                    int times = rng.Next(3) == 0 ? 1 + rng.Next(64) : 1;
                    for (int t = 0; t < times; t++) b.InsertRange(at, chunk);
                    break;
                }
                case 6 when b.Count > 0: b.RemoveRange(at, b.Count - at); break; // truncate
                case 7 when splice is { Count: > 0 }:
                {
                    var other = splice[rng.Next(splice.Count)];
                    if (other.Length == 0) break;
                    int from = rng.Next(other.Length), len = Math.Min(other.Length - from, 1 + rng.Next(256));
                    b.InsertRange(at, other.AsSpan(from, len).ToArray());
                    break;
                }
                case 8 when b.Count >= 4:
                {
                    // An interesting 32- or 64-bit little-endian integer over the bytes here (sizes, offsets, counts).
                    long[] values = [0, -1, 1, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue, 1L << 32, 1L << 40];
                    var bytes = BitConverter.GetBytes(values[rng.Next(values.Length)]);
                    int width = rng.Next(2) == 0 ? 4 : 8;
                    for (int i = 0; i < width && at + i < b.Count; i++) b[at + i] = bytes[i];
                    break;
                }
                default: if (b.Count > 0) b[at] = (byte)rng.Next(256); break;
            }
        }
        return b.ToArray();
    }

    /// <summary>1–3 text-level mutations (numbers, structure, Unicode) followed, sometimes, by byte-level ones.</summary>
    public static byte[] Text(string text, Random rng)
    {
        int n = 1 + rng.Next(3);
        for (int k = 0; k < n; k++)
        {
            int at = text.Length == 0 ? 0 : rng.Next(text.Length + 1);
            switch (rng.Next(8))
            {
                case 0:
                {
                    var numbers = Number().Matches(text);
                    if (numbers.Count == 0) goto case 1;
                    var m = numbers[rng.Next(numbers.Count)];
                    text = text[..m.Index] + InterestingNumbers[rng.Next(InterestingNumbers.Length)] + text[(m.Index + m.Length)..];
                    break;
                }
                case 1: text = text.Insert(at, InterestingText[rng.Next(InterestingText.Length)]); break;
                case 2:
                {
                    int depth = rng.Next(4) switch { 0 => 70, 1 => 2000, 2 => 30_000, _ => 1 + rng.Next(20) };
                    char open = "[{("[rng.Next(3)];
                    char close = open switch { '[' => ']', '{' => '}', _ => ')' };
                    text = text.Insert(at, new string(open, depth) + (rng.Next(2) == 0 ? new string(close, depth) : ""));
                    break;
                }
                case 3:
                {
                    // Duplicate a line (a duplicate key, a repeated entry).
                    var lines = text.Split('\n').ToList();
                    int i = rng.Next(lines.Count);
                    lines.Insert(i, lines[i]);
                    text = string.Join('\n', lines);
                    break;
                }
                case 4 when text.Length > 0: text = text.Remove(at == text.Length ? at - 1 : at, 1); break;
                case 5:
                {
                    // Swap two random lines (order, indentation).
                    var lines = text.Split('\n');
                    int i = rng.Next(lines.Length), j = rng.Next(lines.Length);
                    (lines[i], lines[j]) = (lines[j], lines[i]);
                    text = string.Join('\n', lines);
                    break;
                }
                case 6:
                {
                    var words = Word().Matches(text);
                    if (words.Count == 0) goto case 1;
                    var m = words[rng.Next(words.Count)];
                    string[] replacement = ["", "null", "true", "[]", "{}", "x" + new string('y', rng.Next(300)), "-1", "1e999", "\\ud800", "a\\u0000b"];
                    text = text[..m.Index] + replacement[rng.Next(replacement.Length)] + text[(m.Index + m.Length)..];
                    break;
                }
                default:
                    text = text.Insert(at, new string(' ', rng.Next(8)));
                    break;
            }
        }
        var bytes = Encoding.UTF8.GetBytes(text);
        return rng.Next(4) == 0 ? Bytes(bytes, rng) : bytes;
    }

    public static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    /// <summary>A random element of <paramref name="items"/>.</summary>
    public static T Pick<T>(this Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"-?\d+(\.\d+)?([eE][-+]?\d+)?")]
    private static partial Regex Number();

    [GeneratedRegex(@"[A-Za-z_][A-Za-z0-9_.]*")]
    private static partial Regex Word();
}
