using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace SaeBench.Core.Checkpoints.Numpy;

/// <summary>
/// The header of a NumPy <c>.npy</c> array, format versions 1.0, 2.0 and 3.0: the magic <c>\x93NUMPY</c>, the version,
/// the header length (2 bytes in 1.0, 4 bytes after), then a Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (4, 6), }</c>. Only C-ordered little-endian floating-point arrays
/// are accepted (<c>&lt;f4</c>, <c>&lt;f2</c>, <c>&lt;f8</c>): big-endian, Fortran-ordered, object and structured arrays are
/// refused with a <see cref="CheckpointFormatException"/> naming the file and the array.
/// </summary>
/// <param name="Descr">The dtype as written (<c>&lt;f4</c>, …).</param>
/// <param name="Shape">The array's shape; empty for a 0-d array.</param>
/// <param name="DataOffset">Bytes before the data: magic, version, length and the header itself.</param>
public sealed record NpyHeader(string Descr, IReadOnlyList<long> Shape, int DataOffset)
{
    /// <summary>The dtypes accepted, with their PyTorch-style names.</summary>
    public static IReadOnlyDictionary<string, string> DTypes { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["<f4"] = "float32",
        ["<f2"] = "float16",
        ["<f8"] = "float64",
    };

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>float32, float16 or float64.</summary>
    public string DType => DTypes[Descr];

    /// <summary>Bytes per element.</summary>
    public int ItemSize => Descr[^1] - '0';

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Bytes of data the header declares (element count × item size).</summary>
    public long DataBytes => ElementCount * ItemSize;

    /// <summary>
    /// Reads the header at the start of <paramref name="stream"/>, leaving it positioned at the first data byte.
    /// <paramref name="file"/> and <paramref name="array"/> name the file and the array in errors.
    /// </summary>
    public static NpyHeader Read(Stream stream, string file, string array, int maxHeaderBytes = 1 << 16)
    {
        var prefix = new byte[12];
        if (stream.ReadAtLeast(prefix.AsSpan(0, 10), 10, throwOnEndOfStream: false) < 10)
            throw new CheckpointFormatException(file, array, "truncated .npy header (fewer than 10 bytes)");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
            throw new CheckpointFormatException(file, array, "not a .npy array (its first bytes are not \\x93NUMPY)");
        int major = prefix[6], minor = prefix[7];
        long length;
        int preamble;
        switch (major, minor)
        {
            case (1, 0):
                length = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
                preamble = 10;
                break;
            case (2, 0) or (3, 0):
                if (stream.ReadAtLeast(prefix.AsSpan(10, 2), 2, throwOnEndOfStream: false) < 2)
                    throw new CheckpointFormatException(file, array, "truncated .npy header (no header length)");
                length = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
                preamble = 12;
                break;
            default:
                throw new CheckpointFormatException(file, array, $".npy format version {major}.{minor} is not supported (1.0, 2.0, 3.0)");
        }
        if (length > maxHeaderBytes)
            throw new CheckpointFormatException(file, array, $".npy header declares {length} bytes, more than the {maxHeaderBytes} allowed");
        var header = new byte[length];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            throw new CheckpointFormatException(file, array, $"truncated .npy header (it declares {length} bytes)");
        string text;
        try
        {
            text = (major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(header);
        }
        catch (DecoderFallbackException)
        {
            throw new CheckpointFormatException(file, array, ".npy header is not valid UTF-8");
        }
        return Parse(text, preamble + (int)length, file, array);
    }

    /// <summary>Parses the header dict (the text after the length field).</summary>
    public static NpyHeader Parse(string text, int dataOffset, string file, string array)
    {
        var fields = new HeaderReader(text, file, array).ReadDict();
        string[] expected = ["descr", "fortran_order", "shape"];
        if (fields.Count != 3 || !expected.All(fields.ContainsKey))
            throw new CheckpointFormatException(file, array,
                $".npy header has the keys {{{string.Join(", ", fields.Keys.Order(StringComparer.Ordinal))}}}; expected exactly descr, fortran_order and shape");
        string descr = fields["descr"] as string
                       ?? throw new CheckpointFormatException(file, array, "structured dtypes (a list as 'descr') are not supported; save a plain float array");
        if (fields["fortran_order"] is not bool fortran)
            throw new CheckpointFormatException(file, array, "'fortran_order' must be True or False");
        if (fortran)
            throw new CheckpointFormatException(file, array, "fortran_order is True; save a C-ordered array (numpy.ascontiguousarray)");
        if (fields["shape"] is not long[] shape)
            throw new CheckpointFormatException(file, array, "'shape' must be a tuple of non-negative integers");
        if (!DTypes.ContainsKey(descr))
        {
            string why = descr.StartsWith('>') ? "big-endian arrays are not supported; re-save with arr.astype('<' + arr.dtype.str[1:])"
                : descr.Contains('O') ? "object arrays are refused (reading them would need pickle)"
                : "this dtype is not supported";
            throw new CheckpointFormatException(file, array, $"dtype '{descr}': {why} (supported: {string.Join(", ", DTypes.Keys.Select(d => $"'{d}'"))})");
        }
        var result = new NpyHeader(descr, shape, dataOffset);
        try
        {
            _ = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * result.ItemSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(file, array, $"shape ({string.Join(", ", shape)}) is too large");
        }
        return result;
    }

    /// <summary>A reader for the small subset of Python literals a .npy header uses: strings, True/False and tuples of integers.</summary>
    private sealed class HeaderReader(string text, string file, string array)
    {
        private int _at;

        public Dictionary<string, object?> ReadDict()
        {
            var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}')
                {
                    _at++;
                    break;
                }
                string key = ReadString();
                Expect(':');
                object? value = ReadValue();
                if (!fields.TryAdd(key, value)) throw Bad($"key '{key}' appears twice");
                SkipSpace();
                if (Peek() == ',')
                {
                    _at++;
                    continue;
                }
                Expect('}');
                break;
            }
            SkipSpace();
            if (_at != text.Length) throw Bad("unexpected text after the header dict");
            return fields;
        }

        private object? ReadValue()
        {
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"') return ReadString();
            if (c == '(') return ReadTuple();
            if (c == '[') return SkipList();
            if (Take("True")) return true;
            if (Take("False")) return false;
            throw Bad($"unexpected '{c}' at offset {_at}");
        }

        private long[] ReadTuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')')
                {
                    _at++;
                    return dims.ToArray();
                }
                int start = _at;
                while (_at < text.Length && char.IsAsciiDigit(text[_at])) _at++;
                if (_at == start || !long.TryParse(text.AsSpan(start, _at - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d))
                    throw Bad($"'shape' has a bad dimension at offset {start}");
                if (_at < text.Length && text[_at] == 'L') _at++; // Python 2 longs
                dims.Add(d);
                SkipSpace();
                if (Peek() == ',') _at++;
                else if (Peek() != ')') throw Bad($"expected ',' or ')' in 'shape' at offset {_at}");
            }
        }

        /// <summary>A structured dtype's list: skipped (bracket-balanced) so the caller can refuse it by name.</summary>
        private object? SkipList()
        {
            int depth = 0;
            do
            {
                char c = Peek();
                if (c == '[') depth++;
                else if (c == ']') depth--;
                _at++;
            } while (depth > 0);
            return null;
        }

        private string ReadString()
        {
            SkipSpace();
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Bad($"expected a quoted key or value at offset {_at}");
            int start = ++_at;
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\') throw Bad("escapes in header strings are not supported");
                _at++;
            }
            if (_at >= text.Length) throw Bad("unterminated string");
            return text[start.._at++];
        }

        private bool Take(string word)
        {
            if (string.CompareOrdinal(text, _at, word, 0, word.Length) != 0) return false;
            _at += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Bad($"expected '{c}' at offset {_at}");
            _at++;
        }

        private char Peek() => _at < text.Length ? text[_at] : throw Bad("the header dict ends early");

        private void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at])) _at++;
        }

        private CheckpointFormatException Bad(string problem) => new(file, array, $"malformed .npy header: {problem}");
    }
}
