using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SaeBench.Models.Common;

/// <summary>Content hashes: lower-case hex SHA-256 over parts written with unambiguous framing.</summary>
public sealed class ContentHasher : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public ContentHasher Add(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Add(BitConverter.GetBytes(bytes.Length));
        _hash.AppendData(bytes);
        return this;
    }

    public ContentHasher Add(long value) => Add(BitConverter.GetBytes(value));

    public ContentHasher Add(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        return this;
    }

    public ContentHasher Add(ReadOnlySpan<float> values) => Add(MemoryMarshal.AsBytes(values));

    public ContentHasher AddFile(string path)
    {
        using var stream = File.OpenRead(path);
        Add(Path.GetFileName(path));
        var buffer = new byte[1 << 20];
        int n;
        while ((n = stream.Read(buffer)) > 0) _hash.AppendData(buffer, 0, n);
        return this;
    }

    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public void Dispose() => _hash.Dispose();

    public static string Of(params string[] parts)
    {
        using var h = new ContentHasher();
        foreach (var p in parts) h.Add(p);
        return h.Finish();
    }
}
