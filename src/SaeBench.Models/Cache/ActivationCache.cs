using System.Runtime.InteropServices;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Common;
using SaeBench.Models.Files;

namespace SaeBench.Models.Cache;

/// <summary>
/// Activations of (model, hook, split) computed once and reused across checkpoints and runs. Each entry is a directory
/// <c>&lt;root&gt;/activations/&lt;model id&gt;/&lt;key&gt;/</c>, key = hash(model content hash, hook, split, format), holding
/// <c>activations.npy</c> (<c>[N, d]</c> or <c>[N, P, d]</c> float32), <c>labels.npy</c> (int32 per example) and
/// <c>valid.npy</c> (uint8 <c>[N, P]</c>). It is written to a temporary directory and renamed into place, so a reader
/// never sees a half-written entry; it is read back memory-mapped, batch by batch.
/// </summary>
public sealed class ActivationCache(string root, Action<string>? log = null)
{
    public const string FormatVersion = "activation-cache-1";

    public string Root { get; } = root;

    public string EntryDirectory(ModelInfo info, Split split)
    {
        string key = ContentHasher.Of(FormatVersion, info.ContentHash, info.Hook, split.ToString());
        string safeId = string.Concat(info.Id.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        return Path.Combine(Root, "activations", safeId, key[..20]);
    }

    /// <summary>The cached activations of <paramref name="model"/>'s split, computing and writing them on first use.
    /// Enumerating the result materialises the entry; reading <see cref="IActivationSource.Shape"/> does not.</summary>
    public IActivationSource Get(IModelUnderStudy model, Split split) => new CachedSource(this, model, split);

    public bool Contains(ModelInfo info, Split split) => File.Exists(Path.Combine(EntryDirectory(info, split), "labels.npy"));

    private IActivationSource Materialise(IModelUnderStudy model, Split split)
    {
        string dir = EntryDirectory(model.Info, split);
        string acts = Path.Combine(dir, "activations.npy"), labels = Path.Combine(dir, "labels.npy"), valid = Path.Combine(dir, "valid.npy");
        if (!File.Exists(labels)) Write(model.Activations(split), dir, model.Info, split);
        var layout = NpyFile.ReadHeader(acts);
        var labelLayout = NpyFile.ReadHeader(labels);
        var y = new long[labelLayout.Elements];
        using (var f = new MappedFile(labels)) f.ReadIntegers(labelLayout, 0, y);
        return new MappedActivationSource(split, layout, 0, (int)layout.Shape[0], y.Select(v => (int)v).ToArray(), NpyFile.ReadHeader(valid));
    }

    private void Write(IActivationSource source, string dir, ModelInfo info, Split split)
    {
        var shape = source.Shape;
        log?.Invoke($"caching activations of {info.Id} at {info.Hook}, {split} split ({shape.Examples} examples) in {dir}");
        string temp = dir + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(temp);
        var labels = new int[shape.Examples];
        var valid = new byte[shape.Rows];
        long[] dims = shape.Positions == 1 ? [shape.Examples, shape.DModel] : [shape.Examples, shape.Positions, shape.DModel];
        using (var stream = File.Create(Path.Combine(temp, "activations.npy")))
        {
            stream.Write(NpyFile.Header("<f4", dims));
            int expected = 0;
            foreach (var batch in source.Batches(8192))
            {
                using (batch)
                {
                    if (batch.FirstExample != expected || batch.Activations.Cols != shape.DModel)
                        throw new InvalidOperationException($"{info.Id}: activation source yielded examples out of order or of the wrong width.");
                    stream.Write(MemoryMarshal.AsBytes(batch.Activations.Span));
                    for (int r = 0; r < batch.Rows; r++)
                    {
                        valid[(long)batch.FirstExample * shape.Positions + r] = batch.Valid[r] ? (byte)1 : (byte)0;
                        if (r % shape.Positions == 0) labels[batch.ExampleIndex[r]] = batch.Label[r];
                    }
                    expected += batch.ExampleCount;
                }
            }
            if (expected != shape.Examples)
                throw new InvalidOperationException($"{info.Id}: activation source yielded {expected} of {shape.Examples} examples.");
        }
        NpyFile.WriteBytes(Path.Combine(temp, "valid.npy"), [shape.Examples, shape.Positions], valid);
        NpyFile.WriteInts(Path.Combine(temp, "labels.npy"), [shape.Examples], labels); // written last: marks the entry complete
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // an incomplete entry
            Directory.Move(temp, dir);
        }
        catch (IOException)
        {
            Directory.Delete(temp, recursive: true); // another process wrote the same entry meanwhile
        }
    }

    private sealed class CachedSource(ActivationCache cache, IModelUnderStudy model, Split split) : IActivationSource
    {
        private readonly Lazy<IActivationSource> _inner = new(() => cache.Materialise(model, split));

        public ActivationShape Shape => _inner.IsValueCreated ? _inner.Value.Shape : model.Activations(split).Shape;

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null) => _inner.Value.Batches(maxRows, examples);
    }
}

/// <summary>A model whose activations come through an <see cref="ActivationCache"/>; everything else is the inner model's.</summary>
public sealed class CachedModel(IModelUnderStudy inner, ActivationCache cache) : IModelUnderStudy
{
    public IModelUnderStudy Inner { get; } = inner;

    public ModelInfo Info => Inner.Info;

    public IActivationSource Activations(Split split) => cache.Get(Inner, split);

    public T? Capability<T>() where T : class => Inner.Capability<T>();
}
