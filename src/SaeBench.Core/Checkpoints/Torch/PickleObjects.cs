namespace SaeBench.Core.Checkpoints.Torch;

/// <summary>A global the pickle asked for, after it passed the allow-list. Nothing is ever resolved to code.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>
/// A dict built by the pickle (insertion order kept, as OrderedDict and Python dicts do). Keys are plain values (strings,
/// integers, floats, booleans, None: <see cref="IsKey"/>), so setting an item is a hash lookup, never a comparison of
/// nested objects.
/// </summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = [];
    private Dictionary<object, int>? _index;
    private int _noneIndex = -1;

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;

    /// <summary>BUILD state (e.g. a state dict's <c>_metadata</c>), kept but unused.</summary>
    public object? State { get; set; }

    /// <summary>Whether <paramref name="key"/> may key a dict here.</summary>
    public static bool IsKey(object? key) => key is null or string or long or double or bool;

    /// <summary>Sets an item; the caller has checked <see cref="IsKey"/>. Small dicts are searched, larger ones indexed.</summary>
    public void Set(object? key, object? value)
    {
        int at = Find(key);
        if (at >= 0)
        {
            _items[at] = new(key, value);
            return;
        }
        _items.Add(new(key, value));
        if (key is null) _noneIndex = _items.Count - 1;
        else if (_index is not null) _index[key] = _items.Count - 1;
        else if (_items.Count > SmallSize)
        {
            _index = [];
            for (int i = 0; i < _items.Count; i++)
                if (_items[i].Key is { } k) _index[k] = i;
        }
    }

    private const int SmallSize = 8;

    private int Find(object? key)
    {
        if (key is null) return _noneIndex;
        if (_index is not null) return _index.GetValueOrDefault(key, -1);
        for (int i = 0; i < _items.Count; i++)
            if (key.Equals(_items[i].Key)) return i;
        return -1;
    }
}

/// <summary>A tuple built by the pickle. Compared by reference: nothing here needs tuples to be equal by value, and comparing
/// nested tuples by value would recurse as deep as the pickle nests them.</summary>
internal sealed class PickleTuple(object?[] items)
{
    public object?[] Items { get; } = items;
}

/// <summary>A torch storage named by a persistent id: <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
public sealed record TorchStorageRef(string StorageType, string Key, string Location, long ElementCount)
{
    /// <summary>Bytes per element of the storage type.</summary>
    public int ElementSize => TorchStorageTypes.ElementSize(StorageType);
}

/// <summary>A tensor view over a storage (<c>_rebuild_tensor_v2</c>): offset, size and stride in elements.</summary>
public sealed record TorchTensorRef(TorchStorageRef Storage, long StorageOffset, long[] Size, long[] Stride)
{
    public long ElementCount => Size.Aggregate(1L, (a, b) => a * b);

    /// <summary>True when the elements lie row-major and contiguous in the storage.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = Size.Length - 1; d >= 0; d--)
            {
                if (Size[d] != 1 && Stride[d] != expected) return false;
                expected *= Size[d];
            }
            return true;
        }
    }
}

/// <summary>The torch storage classes a state dict may use, with element sizes and dtype names.</summary>
public static class TorchStorageTypes
{
    private static readonly Dictionary<string, (int Size, string DType)> Types = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = (4, "float32"),
        ["DoubleStorage"] = (8, "float64"),
        ["HalfStorage"] = (2, "float16"),
        ["BFloat16Storage"] = (2, "bfloat16"),
        ["LongStorage"] = (8, "int64"),
        ["IntStorage"] = (4, "int32"),
        ["ShortStorage"] = (2, "int16"),
        ["CharStorage"] = (1, "int8"),
        ["ByteStorage"] = (1, "uint8"),
        ["BoolStorage"] = (1, "bool"),
    };

    public static IEnumerable<string> Names => Types.Keys;

    public static bool IsKnown(string name) => Types.ContainsKey(name);

    public static int ElementSize(string name) => Types[name].Size;

    public static string DType(string name) => Types[name].DType;
}
