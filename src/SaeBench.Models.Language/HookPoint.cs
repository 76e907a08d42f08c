using System.Globalization;

namespace SaeBench.Models.Language;

/// <summary>The hooks of one block, in the order the forward pass reaches them.</summary>
public enum HookKind
{
    /// <summary><c>hook_resid_pre</c>: the block's input (= the previous block's <c>hook_resid_post</c>).</summary>
    ResidPre = 0,

    /// <summary><c>attn.hook_z</c>: per query head, the attention-weighted values before W_O; <c>[rows, heads·d_head]</c>.</summary>
    Z = 1,

    /// <summary><c>hook_attn_out</c>: what attention adds to the residual stream (after Gemma-2's post-attention norm).</summary>
    AttnOut = 2,

    /// <summary><c>hook_resid_mid</c>: resid_pre + attn_out (absent with a parallel residual).</summary>
    ResidMid = 3,

    /// <summary><c>hook_mlp_out</c>: what the MLP adds (after Gemma-2's post-feedforward norm).</summary>
    MlpOut = 4,

    /// <summary><c>hook_resid_post</c>: the block's output.</summary>
    ResidPost = 5,
}

/// <summary>A TransformerLens hook of one block, e.g. <c>blocks.5.hook_resid_post</c> or <c>blocks.3.attn.hook_z</c>.</summary>
public readonly record struct HookPoint(int Layer, HookKind Kind) : IComparable<HookPoint>
{
    private static readonly string[] Suffixes = ["hook_resid_pre", "attn.hook_z", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"];

    /// <summary>Position in forward order (strictly increasing along the pass).</summary>
    public int Order => Layer * Suffixes.Length + (int)Kind;

    /// <summary>The TransformerLens name.</summary>
    public string Name => $"blocks.{Layer.ToString(CultureInfo.InvariantCulture)}.{Suffixes[(int)Kind]}";

    /// <summary>True for the three residual-stream hooks (a forward pass can start from them without the tokens).</summary>
    public bool IsResidual => Kind is HookKind.ResidPre or HookKind.ResidMid or HookKind.ResidPost;

    public int CompareTo(HookPoint other) => Order.CompareTo(other.Order);

    public override string ToString() => Name;

    /// <summary>Parses a TransformerLens hook name (syntax only; <see cref="HookCatalog"/> checks it exists in a model).</summary>
    public static bool TryParse(string name, out HookPoint hook)
    {
        hook = default;
        if (!name.StartsWith("blocks.", StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', 7);
        if (dot < 0 || !int.TryParse(name.AsSpan(7, dot - 7), NumberStyles.None, CultureInfo.InvariantCulture, out int layer)) return false;
        int kind = Array.IndexOf(Suffixes, name[(dot + 1)..]);
        if (kind < 0) return false;
        hook = new HookPoint(layer, (HookKind)kind);
        return true;
    }
}

/// <summary>The hooks a model has, with name lookup that suggests the nearest name on a miss.</summary>
public sealed class HookCatalog
{
    private readonly Dictionary<string, HookPoint> _byName;

    public HookCatalog(TransformerConfig config)
    {
        var hooks = new List<HookPoint>();
        for (int l = 0; l < config.Layers; l++)
        foreach (var kind in Enum.GetValues<HookKind>())
        {
            if (kind == HookKind.ResidMid && config.ParallelResidual) continue;
            hooks.Add(new HookPoint(l, kind));
        }
        All = hooks;
        _byName = hooks.ToDictionary(h => h.Name, StringComparer.Ordinal);
        Config = config;
    }

    public TransformerConfig Config { get; }

    /// <summary>Every hook, in forward order.</summary>
    public IReadOnlyList<HookPoint> All { get; }

    public bool Contains(HookPoint hook) => _byName.ContainsKey(hook.Name);

    /// <summary>The hook called <paramref name="name"/>; an unknown name is an <see cref="ArgumentException"/> with a "did you mean".</summary>
    public HookPoint Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name.Trim(), out var hook)) return hook;
        string reason = !HookPoint.TryParse(name.Trim(), out var parsed) || parsed.Name != name.Trim()
            ? "not a hook name"
            : parsed.Layer >= Config.Layers
                ? $"layer {parsed.Layer} does not exist (the model has {Config.Layers} layers, 0–{Config.Layers - 1})"
                : $"{Config.ModelType} has a parallel residual, so there is no hook_resid_mid";
        string suggestion = Nearest(name.Trim());
        throw new ArgumentException($"Unknown hook '{name}': {reason}. Did you mean '{suggestion}'? (hooks: blocks.L.hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|attn.hook_z)");
    }

    /// <summary>Width of the hook's value per token: d_model, or heads·d_head for <c>hook_z</c>.</summary>
    public int Width(HookPoint hook) => hook.Kind == HookKind.Z ? Config.QueryWidth : Config.DModel;

    private string Nearest(string name)
    {
        string best = All[0].Name;
        int bestDistance = int.MaxValue;
        foreach (var h in All)
        {
            int d = Levenshtein(name, h.Name);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = h.Name;
            }
        }
        return best;
    }

    private static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
