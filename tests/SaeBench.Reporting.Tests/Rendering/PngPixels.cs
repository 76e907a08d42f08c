using System.Buffers.Binary;
using System.IO.Compression;

namespace SaeBench.Reporting.Tests.Rendering;

/// <summary>A minimal PNG decoder for 8-bit RGB/RGBA non-interlaced images (what SkiaSharp writes), to look at pixels in tests.</summary>
public static class PngPixels
{
    /// <summary>Pixels whose R, G and B are all below 128 and that are not transparent.</summary>
    public static int CountDark(byte[] png)
    {
        var (w, h, channels, data) = Decode(png);
        int n = 0;
        for (int i = 0; i < w * h; i++)
        {
            int o = i * channels;
            bool opaque = channels < 4 || data[o + 3] > 128;
            if (opaque && data[o] < 128 && data[o + 1] < 128 && data[o + 2] < 128) n++;
        }
        return n;
    }

    /// <summary>The horizontal resolution of a pHYs chunk in pixels per metre (0 when there is none).</summary>
    public static uint PixelsPerMetre(byte[] png)
    {
        int pos = 8;
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos, 4));
            var type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            if (type == "pHYs") return BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8, 4));
            if (type == "IEND") break;
            pos += 12 + len;
        }
        return 0;
    }

    public static (int Width, int Height, int Channels, byte[] Pixels) Decode(byte[] png)
    {
        int pos = 8, width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos, 4));
            var type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var body = png.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body[..4]);
                height = BinaryPrimitives.ReadInt32BigEndian(body.Slice(4, 4));
                if (body[8] != 8 || body[12] != 0) throw new NotSupportedException("only 8-bit, non-interlaced PNGs");
                channels = body[9] switch { 2 => 3, 6 => 4, 0 => 1, 4 => 2, _ => throw new NotSupportedException("colour type " + body[9]) };
            }
            else if (type == "IDAT") idat.Write(body);
            else if (type == "IEND") break;
            pos += 12 + len;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var src = raw.ToArray();
        int stride = width * channels;
        var output = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = src[y * (stride + 1)];
            for (int x = 0; x < stride; x++)
            {
                int cur = src[y * (stride + 1) + 1 + x];
                int a = x >= channels ? output[y * stride + x - channels] : 0;
                int b = y > 0 ? output[(y - 1) * stride + x] : 0;
                int c = x >= channels && y > 0 ? output[(y - 1) * stride + x - channels] : 0;
                int pred = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException("bad PNG filter " + filter),
                };
                output[y * stride + x] = (byte)(cur + pred);
            }
        }
        return (width, height, channels, output);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
