using SaeBench.Core.Models;
using SaeBench.Training.Optimization;

namespace SaeBench.Evals.Ravel;

/// <summary>
/// One RAVEL prompt: <c>template % entity</c>, tokenised so that <see cref="Position"/> is the entity's last token by
/// construction, with the model's greedy completion once generated.
/// </summary>
/// <param name="Index">Position in the entity type's prompt list (a key for cached hook rows).</param>
public sealed record RavelPrompt(int Index, string Attribute, string Template, string Entity, string Label, string Text, int[] Ids, int Position)
{
    /// <summary>The first greedy token (−1 before generation).</summary>
    public int FirstToken { get; init; } = -1;

    /// <summary>The greedy completion's text (null before generation).</summary>
    public string? Completion { get; init; }

    /// <summary>Whether the completion states the label (<see cref="RavelMatching.EvaluateCompletion"/>).</summary>
    public bool Correct { get; init; }
}

/// <summary>A base/source pair. Cause pairs share the cause attribute (different values); isolation pairs another one.</summary>
/// <param name="Cause">True for a cause pair by construction.</param>
public sealed record RavelPair(RavelPrompt Base, RavelPrompt Source, bool Cause)
{
    /// <summary>The token MDBM trains towards: the source's first token for cause pairs, the base's for isolation pairs.</summary>
    public int Target => Cause ? Source.FirstToken : Base.FirstToken;

    /// <summary>The value the intervened completion must state: the source's for cause pairs, the base's for isolation pairs.</summary>
    public string Label => Cause ? Source.Label : Base.Label;

    /// <summary>
    /// How the pair is scored (SAEBench's rule, <c>base_pred == source_pred</c>, where an isolation pair carries the base's
    /// first token in both slots): isolation pairs always, and cause pairs whose base and source values start with the same
    /// token; the other cause pairs are scored as cause.
    /// </summary>
    public bool ScoredAsIsolation => !Cause || Base.FirstToken == Source.FirstToken;
}

/// <summary>Prompt building, filtering and pair sampling (SAEBench's <c>instance.py</c> and <c>intervention.get_prompt_pairs</c>).</summary>
public static class RavelPrompts
{
    /// <summary>
    /// Every entity × selected attribute × template prompt whose entity has a value for the attribute, tokenised as
    /// <c>encode(prefix + entity)</c> (BOS by the model's rule) followed by <c>encode(remainder)</c> without BOS; the entity
    /// position is the last token of the first part. Prompts longer than <paramref name="maxLength"/> − <paramref name="reserve"/>
    /// tokens are left out (they could not be continued).
    /// </summary>
    public static List<RavelPrompt> Build(RavelEntityData data, ITextTokenizer tokenizer, int maxLength, int reserve)
    {
        var prompts = new List<RavelPrompt>();
        foreach (var (entity, values) in data.Entities)
        foreach (var (attribute, templates) in data.Templates)
        {
            if (!values.TryGetValue(attribute, out var label)) continue;
            foreach (var template in templates)
            {
                var (prefix, remainder) = RavelData.Split(template);
                var head = tokenizer.Encode(prefix + entity);
                if (head.Length == 0) continue;
                int[] tail = remainder.Length == 0 ? [] : tokenizer.Encode(remainder, prependBos: false);
                int[] ids = [.. head, .. tail];
                if (ids.Length + reserve > maxLength) continue;
                prompts.Add(new RavelPrompt(prompts.Count, attribute, template, entity, label, prefix + entity + remainder, ids, head.Length - 1));
            }
        }
        return prompts;
    }

    /// <summary>
    /// The correctly completed prompts of the <paramref name="topN"/> entities with the most correct prompts (ties: the
    /// entity listed first wins, as SAEBench's stable sort over its insertion order).
    /// </summary>
    public static List<RavelPrompt> CorrectOfTopEntities(IReadOnlyList<RavelPrompt> prompts, int topN)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var p in prompts)
        {
            if (!counts.ContainsKey(p.Entity)) { counts[p.Entity] = 0; order.Add(p.Entity); }
            if (p.Correct) counts[p.Entity]++;
        }
        var kept = order.Select((e, i) => (e, i)).OrderByDescending(t => counts[t.e]).ThenBy(t => t.i).Take(topN).Select(t => t.e).ToHashSet(StringComparer.Ordinal);
        return prompts.Where(p => p.Correct && kept.Contains(p.Entity)).ToList();
    }

    /// <summary>
    /// <paramref name="n"/> base prompts of <paramref name="attribute"/> sampled without replacement (all of them, in order,
    /// when there are fewer), each with a source drawn uniformly among the attribute's prompts with a different value;
    /// bases for which no such source exists are dropped (SAEBench raises).
    /// </summary>
    public static List<RavelPair> Pairs(IReadOnlyList<RavelPrompt> prompts, string attribute, int n, bool cause, ref SplitMix64 rng)
    {
        var pool = prompts.Where(p => p.Attribute == attribute).ToList();
        IEnumerable<RavelPrompt> bases = pool;
        if (pool.Count > n)
        {
            var index = Enumerable.Range(0, pool.Count).ToArray();
            for (int i = 0; i < n; i++)
            {
                int j = i + rng.NextInt(pool.Count - i);
                (index[i], index[j]) = (index[j], index[i]);
            }
            bases = index.Take(n).Select(i => pool[i]);
        }
        var pairs = new List<RavelPair>();
        foreach (var b in bases)
        {
            var different = pool.Where(p => p.Label != b.Label).ToList();
            if (different.Count == 0) continue;
            pairs.Add(new RavelPair(b, different[rng.NextInt(different.Count)], cause));
        }
        return pairs;
    }

    /// <summary>Fisher–Yates shuffle of a list in place.</summary>
    public static void Shuffle<T>(IList<T> list, ref SplitMix64 rng)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <summary>The text of generated tokens (each token's text; special tokens read as nothing).</summary>
    public static string Decode(ITextTokenizer tokenizer, IEnumerable<int> ids) => string.Concat(ids.Select(id => tokenizer.TokenText(id) ?? ""));
}
