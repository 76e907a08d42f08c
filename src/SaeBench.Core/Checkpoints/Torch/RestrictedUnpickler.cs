using System.Buffers.Binary;
using System.Text;

namespace SaeBench.Core.Checkpoints.Torch;

/// <summary>
/// A pickle virtual machine that only builds data. It understands the opcodes a <c>torch.save</c>d state dict uses
/// (protocols 2–5) and accepts exactly the globals such a dict needs (<see cref="AllowedGlobals"/>). Any other global —
/// <c>os.system</c>, <c>builtins.eval</c>, a model class — is refused the moment the pickle names it, before
/// anything could be called; nothing in the pickle is ever executed.
/// </summary>
public static class RestrictedUnpickler
{
    private const string OrderedDict = "collections.OrderedDict";
    private const string RebuildTensor = "torch._utils._rebuild_tensor_v2";
    private const string RebuildParameter = "torch._utils._rebuild_parameter";

    /// <summary>Every global a state dict may reference.</summary>
    public static IReadOnlySet<string> AllowedGlobals { get; } = new HashSet<string>(
        new[] { OrderedDict, RebuildTensor, RebuildParameter }.Concat(TorchStorageTypes.Names.Select(n => "torch." + n)),
        StringComparer.Ordinal);

    /// <summary>Most objects on the pickle's stack (and open MARKs) at once.</summary>
    public const int MaxStack = 1_000_000;

    /// <summary>Most memo entries.</summary>
    public const int MaxMemo = 1_000_000;

    /// <summary>Most containers made and items put into them, in all (a state dict of a thousand tensors needs tens of
    /// thousands); with <see cref="MaxStack"/> this bounds the memory a pickle can take to about 150 MB.</summary>
    public const int MaxItems = 1_000_000;

    /// <summary>Deepest nesting of dicts, lists and tuples in the loaded object (a state dict needs four or five levels).</summary>
    public const int MaxDepth = 100;

    /// <summary>
    /// Runs the pickle and returns its top-level object: a dict of names to <see cref="TorchTensorRef"/>s (plus any
    /// plain numbers, strings and nested dicts). Refusals are <see cref="CheckpointFormatException"/>s naming
    /// <paramref name="file"/> and <paramref name="entry"/>. The object is checked before anything walks it: nested no
    /// deeper than <see cref="MaxDepth"/> and free of cycles; objects the memo shares stay shared (never copied per path).
    /// </summary>
    public static IReadOnlyDictionary<string, object?> LoadStateDict(ReadOnlySpan<byte> pickle, string file, string entry)
    {
        var top = new Machine(file, entry).Run(pickle);
        CheckShape(top, file, entry);
        if (top is not PickleDict dict)
            throw new CheckpointFormatException(file, entry, $"the pickle holds a {Describe(top)}, not a state dict (a dict of tensors)");
        var converted = new Dictionary<PickleDict, IReadOnlyDictionary<string, object?>>(ReferenceEqualityComparer.Instance);
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name)
                throw new CheckpointFormatException(file, entry, $"state dict key {Describe(key)} is not a string");
            result[name] = value is PickleDict nested ? Plain(nested, converted) : value;
        }
        return result;
    }

    /// <summary>A nested dict as a plain dictionary; each distinct dict is converted once (recursion is bounded by <see cref="CheckShape"/>).</summary>
    private static IReadOnlyDictionary<string, object?> Plain(PickleDict d, Dictionary<PickleDict, IReadOnlyDictionary<string, object?>> converted)
    {
        if (converted.TryGetValue(d, out var done)) return done;
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        converted[d] = result;
        foreach (var (key, value) in d.Items) result[key is null ? "None" : System.Convert.ToString(key, System.Globalization.CultureInfo.InvariantCulture)!] = value is PickleDict n ? Plain(n, converted) : value;
        return result;
    }

    /// <summary>
    /// Walks the object graph without recursion: refuses a container that contains itself (directly or through others)
    /// and nesting deeper than <see cref="MaxDepth"/>. Each distinct object is visited once, so shared objects cost nothing.
    /// </summary>
    private static void CheckShape(object? top, string file, string entry)
    {
        var state = new Dictionary<object, bool>(ReferenceEqualityComparer.Instance); // true: on the current path; false: finished
        var path = new Stack<(object Node, IEnumerator<object?> Children)>();
        void Enter(object node)
        {
            if (path.Count >= MaxDepth)
                throw new CheckpointFormatException(file, entry, $"the pickle's objects are nested deeper than {MaxDepth} levels; a state dict never is");
            state[node] = true;
            path.Push((node, Children(node).GetEnumerator()));
        }
        if (!IsContainer(top)) return;
        Enter(top!);
        while (path.Count > 0)
        {
            var (node, children) = path.Peek();
            if (!children.MoveNext())
            {
                state[node] = false;
                path.Pop();
                continue;
            }
            var child = children.Current;
            if (!IsContainer(child)) continue;
            if (state.TryGetValue(child!, out bool open))
            {
                if (open)
                    throw new CheckpointFormatException(file, entry, $"the pickle's {Describe(child)} contains itself (a cycle); a state dict never does");
                continue;
            }
            Enter(child!);
        }
    }

    private static bool IsContainer(object? o) => o is PickleDict or PickleTuple or List<object?>;

    private static IEnumerable<object?> Children(object node) => node switch
    {
        PickleDict d => d.Items.Select(kv => kv.Value),
        PickleTuple t => t.Items,
        List<object?> l => l,
        _ => [],
    };

    internal static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"string '{(s.Length <= 80 ? s : s[..80] + "…")}'",
        PickleGlobal g => $"global '{g.FullName}'",
        PickleTuple t => $"tuple of {t.Items.Length}",
        PickleDict => "dict",
        List<object?> l => $"list of {l.Count}",
        _ => o.GetType().Name,
    };

    private sealed class Machine(string file, string entry)
    {
        private readonly List<object?> _stack = [];
        private readonly Stack<int> _marks = new();
        private readonly Dictionary<long, object?> _memo = [];
        private int _pos;
        private long _items;

        private CheckpointFormatException Error(string problem) => new(file, entry, $"{problem} (at byte {_pos} of the pickle)");

        public object? Run(ReadOnlySpan<byte> data)
        {
            while (true)
            {
                if (_pos >= data.Length) throw Error("the pickle ends without a STOP opcode (truncated)");
                byte op = data[_pos++];
                switch (op)
                {
                    case 0x80: // PROTO
                        int proto = Take(data, 1)[0];
                        if (proto > 5) throw Error($"pickle protocol {proto} is not supported (2–5 are)");
                        break;
                    case 0x95: // FRAME
                        Take(data, 8);
                        break;
                    case (byte)'c': // GLOBAL
                    {
                        string module = Line(data);
                        string name = Line(data);
                        Push(Global(module, name));
                        break;
                    }
                    case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop() as string ?? throw Error("STACK_GLOBAL needs a string name");
                        var module = Pop() as string ?? throw Error("STACK_GLOBAL needs a string module");
                        Push(Global(module, name));
                        break;
                    }
                    case (byte)'q': Memo(Take(data, 1)[0]); break; // BINPUT
                    case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4))); break; // LONG_BINPUT
                    case 0x94: Memo(_memo.Count); break; // MEMOIZE
                    case (byte)'h': Push(Recall(Take(data, 1)[0])); break; // BINGET
                    case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4)))); break; // LONG_BINGET
                    case (byte)'(': // MARK
                        if (_marks.Count >= MaxStack) throw Error("the pickle opens too many MARKs");
                        _marks.Push(_stack.Count);
                        break;
                    case (byte)')': Count(1); Push(new PickleTuple([])); break; // EMPTY_TUPLE
                    case (byte)'t': Push(new PickleTuple(Count(PopMark()))); break; // TUPLE
                    case 0x85: Count(1); Push(new PickleTuple([Pop()])); break; // TUPLE1
                    case 0x86: { Count(2); var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b])); break; } // TUPLE2
                    case 0x87: { Count(3); var c = Pop(); var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b, c])); break; } // TUPLE3
                    case (byte)'X': Push(Utf8(Take(data, Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4)), data)))); break; // BINUNICODE
                    case 0x8c: Push(Utf8(Take(data, Take(data, 1)[0]))); break; // SHORT_BINUNICODE
                    case 0x8d: Push(Utf8(Take(data, Length(BinaryPrimitives.ReadUInt64LittleEndian(Take(data, 8)), data)))); break; // BINUNICODE8
                    case (byte)'T': Push(Encoding.Latin1.GetString(Take(data, Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4)), data)))); break; // BINSTRING
                    case (byte)'U': Push(Encoding.Latin1.GetString(Take(data, Take(data, 1)[0]))); break; // SHORT_BINSTRING
                    case (byte)'B': Push(Take(data, Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(data, 4)), data)).ToArray()); break; // BINBYTES
                    case (byte)'C': Push(Take(data, Take(data, 1)[0]).ToArray()); break; // SHORT_BINBYTES
                    case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(data, 4))); break; // BININT
                    case (byte)'K': Push((long)Take(data, 1)[0]); break; // BININT1
                    case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(data, 2))); break; // BININT2
                    case 0x8a: Push(Long(Take(data, Take(data, 1)[0]))); break; // LONG1
                    case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(data, 8))); break; // BINFLOAT
                    case 0x88: Push(true); break; // NEWTRUE
                    case 0x89: Push(false); break; // NEWFALSE
                    case (byte)'N': Push(null); break; // NONE
                    case (byte)'}': Count(1); Push(new PickleDict()); break; // EMPTY_DICT
                    case (byte)']': Count(1); Push(new List<object?>()); break; // EMPTY_LIST
                    case (byte)'s': // SETITEM
                    {
                        var value = Pop();
                        var key = Pop();
                        Dict(Peek()).Set(Key(key), value);
                        Count(1);
                        break;
                    }
                    case (byte)'u': // SETITEMS
                    {
                        var items = PopMark();
                        if (items.Length % 2 != 0) throw Error("SETITEMS with an odd number of items");
                        var d = Dict(Peek());
                        Count(items.Length / 2);
                        for (int i = 0; i < items.Length; i += 2) d.Set(Key(items[i]), items[i + 1]);
                        break;
                    }
                    case (byte)'a': // APPEND
                    {
                        var value = Pop();
                        List(Peek()).Add(value);
                        Count(1);
                        break;
                    }
                    case (byte)'e': // APPENDS
                    {
                        var items = PopMark();
                        List(Peek()).AddRange(Count(items));
                        break;
                    }
                    case (byte)'0': Pop(); break; // POP
                    case (byte)'2': Push(Peek()); break; // DUP
                    case (byte)'1': PopMark(); break; // POP_MARK
                    case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID
                    case (byte)'R': // REDUCE
                    {
                        var args = Pop() as PickleTuple ?? throw Error("REDUCE needs an argument tuple");
                        var callable = Pop();
                        Push(Reduce(callable, args.Items));
                        break;
                    }
                    case (byte)'b': // BUILD
                    {
                        var state = Pop();
                        switch (Peek())
                        {
                            case PickleDict d: d.State = state; break;
                            case TorchTensorRef: break;
                            default: throw Error($"BUILD on a {Describe(Peek())} is not allowed");
                        }
                        break;
                    }
                    case (byte)'.': // STOP
                        if (_stack.Count != 1) throw Error($"STOP with {_stack.Count} objects on the stack");
                        return _stack[0];
                    default:
                        throw Error($"opcode 0x{op:x2} ('{(op >= 32 && op < 127 ? (char)op : '?')}') is not allowed in a state dict pickle " +
                                    "(object construction and code execution opcodes are refused)");
                }
            }
        }

        private PickleGlobal Global(string module, string name)
        {
            var g = new PickleGlobal(module, name);
            if (!AllowedGlobals.Contains(g.FullName))
                throw Error($"refusing to load: the pickle references the global '{g.FullName}', which is not on the allow-list " +
                            $"({string.Join(", ", AllowedGlobals.Order(StringComparer.Ordinal))}); nothing was executed");
            return g;
        }

        private object? Reduce(object? callable, object?[] args)
        {
            if (callable is not PickleGlobal g) throw Error($"REDUCE on a {Describe(callable)}");
            switch (g.FullName)
            {
                case OrderedDict:
                    if (args.Length != 0) throw Error("OrderedDict with arguments is not supported");
                    return new PickleDict();
                case RebuildTensor:
                {
                    if (args.Length < 4) throw Error("_rebuild_tensor_v2 needs storage, offset, size and stride");
                    var storage = args[0] as TorchStorageRef ?? throw Error("_rebuild_tensor_v2: the first argument is not a storage");
                    long offset = AsLong(args[1], "storage offset");
                    var size = AsLongs(args[2], "size");
                    var stride = AsLongs(args[3], "stride");
                    if (size.Length != stride.Length) throw Error($"_rebuild_tensor_v2: size has {size.Length} dimensions, stride {stride.Length}");
                    if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0)) throw Error("_rebuild_tensor_v2: negative offset, size or stride");
                    long last = offset;
                    bool empty = size.Any(s => s == 0);
                    try
                    {
                        for (int d = 0; d < size.Length; d++) last = checked(last + (size[d] - 1) * stride[d]);
                        _ = size.Aggregate(1L, (a, b) => checked(a * b));
                    }
                    catch (OverflowException)
                    {
                        throw Error("_rebuild_tensor_v2: size or stride overflows");
                    }
                    if (!empty && last >= storage.ElementCount)
                        throw Error($"_rebuild_tensor_v2: the view reaches element {last} of a storage of {storage.ElementCount}");
                    return new TorchTensorRef(storage, offset, size, stride);
                }
                case RebuildParameter:
                    if (args.Length < 1 || args[0] is not TorchTensorRef t) throw Error("_rebuild_parameter: the first argument is not a tensor");
                    return t;
                default:
                    throw Error($"the global '{g.FullName}' cannot be called");
            }
        }

        private TorchStorageRef PersistentLoad(object? pid)
        {
            if (pid is not PickleTuple { Items: var items } || items.Length != 5 || items[0] is not "storage")
                throw Error($"persistent id {Describe(pid)} is not a ('storage', type, key, location, numel) tuple");
            if (items[1] is not PickleGlobal { Module: "torch" } type || !TorchStorageTypes.IsKnown(type.Name))
                throw Error($"persistent id names {Describe(items[1])}, not a torch storage type");
            var key = items[2] as string ?? throw Error("persistent id: storage key is not a string");
            if (key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
                throw Error($"persistent id: storage key '{key}' is not a plain name");
            var location = items[3] as string ?? "cpu";
            long numel = AsLong(items[4], "storage size");
            if (numel < 0) throw Error("persistent id: negative storage size");
            return new TorchStorageRef(type.Name, key, location, numel);
        }

        private long AsLong(object? o, string what) => o is long l ? l : throw Error($"{what} is a {Describe(o)}, not an integer");

        private long[] AsLongs(object? o, string what) =>
            o is PickleTuple t ? t.Items.Select(i => AsLong(i, what)).ToArray() : throw Error($"{what} is a {Describe(o)}, not a tuple");

        /// <summary>Counts items put into containers against <see cref="MaxItems"/>.</summary>
        private void Count(long n)
        {
            _items += n;
            if (_items > MaxItems) throw Error($"the pickle builds more than {MaxItems} containers and items; a state dict needs far fewer");
        }

        private object?[] Count(object?[] items)
        {
            Count(items.Length);
            return items;
        }

        private object? Key(object? key) =>
            PickleDict.IsKey(key) ? key : throw Error($"a dict key is a {Describe(key)}; state dict keys are strings (or plain numbers)");

        private PickleDict Dict(object? o) => o as PickleDict ?? throw Error($"SETITEM on a {Describe(o)}");

        private List<object?> List(object? o) => o as List<object?> ?? throw Error($"APPEND on a {Describe(o)}");

        private ReadOnlySpan<byte> Take(ReadOnlySpan<byte> data, int n)
        {
            if (n < 0 || _pos + n > data.Length) throw Error("the pickle is truncated");
            var s = data.Slice(_pos, n);
            _pos += n;
            return s;
        }

        private int Length(ulong n, ReadOnlySpan<byte> data) =>
            n <= (ulong)(data.Length - _pos) ? (int)n : throw Error($"a string of {n} bytes runs past the end of the pickle");

        private string Line(ReadOnlySpan<byte> data)
        {
            int end = data[_pos..].IndexOf((byte)'\n');
            if (end < 0 || end > 512) throw Error("GLOBAL name is not a newline-terminated line");
            var s = Encoding.ASCII.GetString(data.Slice(_pos, end));
            _pos += end + 1;
            return s;
        }

        private static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

        private object Long(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > 8) throw Error($"integer of {bytes.Length} bytes is too large");
            if (bytes.Length == 0) return 0L;
            long v = (sbyte)bytes[^1];
            for (int i = bytes.Length - 2; i >= 0; i--) v = (v << 8) | bytes[i];
            return v;
        }

        private void Push(object? o)
        {
            if (_stack.Count >= MaxStack) throw Error("the pickle stack grows too large");
            _stack.Add(o);
        }

        private object? Pop()
        {
            if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks.Peek())) throw Error("pop from an empty stack");
            var o = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return o;
        }

        private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Error("the stack is empty");

        private object?[] PopMark()
        {
            if (_marks.Count == 0) throw Error("no MARK to pop to");
            int m = _marks.Pop();
            var items = _stack.GetRange(m, _stack.Count - m).ToArray();
            _stack.RemoveRange(m, _stack.Count - m);
            return items;
        }

        private void Memo(long index)
        {
            if (_memo.Count >= MaxMemo) throw Error("the pickle memo grows too large");
            _memo[index] = Peek();
        }

        private object? Recall(long index) => _memo.TryGetValue(index, out var o) ? o : throw Error($"memo entry {index} was never stored");
    }
}
