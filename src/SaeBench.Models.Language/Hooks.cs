using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>
/// Sees the value of a hook during a forward pass. The value is the live tensor (<c>[batch·context, width]</c>,
/// example-major); writing into it replaces the activation for the rest of the pass (that is how a splice works).
/// Do not keep a reference after the call returns: the buffer is reused.
/// </summary>
public interface IHookHandler
{
    void OnHook(HookPoint hook, HostMatrix value);
}

/// <summary>What a forward pass should do besides computing.</summary>
/// <param name="Hooks">The hooks <paramref name="Handler"/> is called at (in forward order).</param>
/// <param name="Handler">Called at each of <paramref name="Hooks"/>; may read or overwrite the value.</param>
/// <param name="StopAfterLastHook">Stop right after the last of <paramref name="Hooks"/> (no final hidden state):
/// for collecting activations, where the rest of the model is wasted work.</param>
public sealed record ForwardOptions(IReadOnlyCollection<HookPoint> Hooks, IHookHandler? Handler, bool StopAfterLastHook = false)
{
    public static ForwardOptions Plain { get; } = new([], null);
}

/// <summary>Copies hook values as the pass reaches them (owned by the collector; dispose it to free them).</summary>
public sealed class HookCollector : IHookHandler, IDisposable
{
    private readonly Dictionary<string, HostMatrix> _values = new(StringComparer.Ordinal);

    public void OnHook(HookPoint hook, HostMatrix value)
    {
        if (_values.Remove(hook.Name, out var old)) old.Dispose();
        _values[hook.Name] = value.Clone();
    }

    /// <summary>Captured values by TransformerLens name.</summary>
    public IReadOnlyDictionary<string, HostMatrix> Values => _values;

    /// <summary>Takes ownership of the captured value (the collector forgets it).</summary>
    public HostMatrix Take(string name) =>
        _values.Remove(name, out var v) ? v : throw new KeyNotFoundException($"Hook '{name}' was not captured.");

    public void Dispose()
    {
        foreach (var v in _values.Values) v.Dispose();
        _values.Clear();
    }
}

/// <summary>Replaces the value at one hook with a given tensor (the splice), then hands the hook on to another handler.</summary>
public sealed class SpliceHandler(HookPoint at, HostMatrix replacement, IHookHandler? next = null) : IHookHandler
{
    public HookPoint At { get; } = at;

    public void OnHook(HookPoint hook, HostMatrix value)
    {
        if (hook == At)
        {
            if (replacement.Rows != value.Rows || replacement.Cols != value.Cols)
                throw new ArgumentException($"Splice at {hook.Name}: replacement is {replacement.Rows}×{replacement.Cols}, the hook is {value.Rows}×{value.Cols}.");
            replacement.Span.CopyTo(value.Span);
        }
        next?.OnHook(hook, value);
    }
}

/// <summary>The outcome of a forward pass: the final normalised hidden state (input of the unembedding) unless the
/// pass stopped early.</summary>
public sealed class ForwardResult(int batch, int context, HostMatrix? hidden) : IDisposable
{
    public int Batch { get; } = batch;
    public int Context { get; } = context;

    /// <summary><c>[batch·context, d_model]</c> after the final norm, or null when the pass stopped after its last hook.</summary>
    public HostMatrix? Hidden { get; private set; } = hidden;

    /// <summary>The hidden state; throws when the pass stopped early.</summary>
    public HostMatrix RequireHidden() => Hidden ?? throw new InvalidOperationException("The forward pass stopped at its last hook; there is no final hidden state.");

    public void Dispose()
    {
        Hidden?.Dispose();
        Hidden = null;
    }
}
