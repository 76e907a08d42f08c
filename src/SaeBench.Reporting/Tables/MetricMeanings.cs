using SaeBench.Core.Results;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Tables;

/// <summary>
/// What a headline metric measures when the name alone would mislead: the offline autointerp stand-ins (no LLM judge)
/// and unlearning on a classifier. Said once in <c>summary.md</c>, <c>report.html</c> and the figures' notes.
/// </summary>
public static class MetricMeanings
{
    /// <summary>The offline autointerp judge's meaning, by which examples it saw.</summary>
    public const string OfflineLabelCover =
        "autointerp offline_judge_score (offline-label-cover, no LLM): on labelled examples it measures class-label predictability — " +
        "how far a latent's activity can be predicted from the example's class alone (1 = it fires on exactly the classes that " +
        "cover 80 % of its activation mass) — not how well a language model can explain the latent.";

    public const string OfflineTokenCover =
        "autointerp offline_judge_score (offline-token-cover, no LLM): on token contexts it measures how far a latent is a " +
        "detector of a few tokens — not how well a language model can explain the latent.";

    public const string ClassifierUnlearning =
        "unlearning on a classifier: 1 − the lowest accuracy on the forget class's correctly classified examples reached by " +
        "clamping a few latents rare on the other classes, among configurations that keep the other classes' accuracy ≥ 0.99 — " +
        "whether the SAE has class-specific latents the decision depends on; not knowledge removal.";

    /// <summary>The notes that apply to a result set (none when no such result is there).</summary>
    public static IReadOnlyList<string> For(ResultSet results)
    {
        var notes = new List<string>();
        var offline = results.Results.Where(r => r.EvalTypeId == "autointerp" && r.Status == JobStatus.Done
                                                 && r.Find("autointerp.offline_judge_score") is not null).ToList();
        // Which stand-in ran is recorded in the unstructured result; the metric is the same. Token contexts come from
        // language models, whose result files name an hf: model.
        bool tokens = offline.Any(r => r.Provenance.ModelId?.StartsWith("hf:", StringComparison.Ordinal) == true);
        bool labels = offline.Any(r => r.Provenance.ModelId?.StartsWith("hf:", StringComparison.Ordinal) != true);
        if (labels) notes.Add(OfflineLabelCover);
        if (tokens) notes.Add(OfflineTokenCover);
        if (results.Results.Any(r => r.EvalTypeId == "unlearning" && r.Status == JobStatus.Done
                                     && r.Provenance.ModelId?.StartsWith("hf:", StringComparison.Ordinal) != true))
            notes.Add(ClassifierUnlearning);
        return notes;
    }
}
