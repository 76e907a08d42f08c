using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Figures;

/// <summary>A headline metric: which evaluator metric, a short name for file names and a panel title.</summary>
/// <param name="BaselinesApply">Whether PCA/identity baselines mean something for this metric and are drawn as
/// reference lines (they do for reconstruction and probing; not for MDL, whose dense code a baseline does not have, nor
/// for the latent-level evaluators).</param>
/// <param name="Variant">Which task, judge or variant produced the metric, said under the panel title (null: nothing to say).</param>
/// <param name="AlternativeTo">The slug of the panel this one stands in for when that one has no values (the same measurement
/// on another kind of model), or null.</param>
public sealed record HeadlineMetric(MetricKey Key, string Slug, string PanelTitle, bool BaselinesApply = false, string? Variant = null,
    string? AlternativeTo = null);

/// <summary>The metrics SAEBench's paper figures show, and L0 (the x axis of the frontier plots).</summary>
public static class HeadlineMetrics
{
    public static readonly MetricKey L0 = new("core", "sparsity.l0");
    public static readonly MetricKey MdlDescriptionLength = new("mdl", "mdl.description_length_bits");
    public static readonly MetricKey MdlFvu = new("mdl", "mdl.fvu");

    /// <summary>The panels of the architecture figure, in SAEBench's order.</summary>
    public static readonly IReadOnlyList<HeadlineMetric> All =
    [
        new(new("core", "model_performance_preservation.ce_loss_score"), "loss_recovered", "Loss recovered", BaselinesApply: true,
            Variant: "reconstruction spliced in"),
        new(new("core", "reconstruction_quality.explained_variance"), "explained_variance", "Explained variance", BaselinesApply: true),
        // SAEBench plots the mean absorption fraction (lower is better), not our 1 − fraction score.
        new(new("absorption_first_letter", "mean.mean_absorption_fraction_score"), "absorption", "Mean absorption fraction",
            Variant: "first-letter task"),
        // The same procedure on a model's concept hierarchy (classifiers, the synthetic world): a different task, its own panel.
        new(new("absorption_hierarchy", "mean.mean_absorption_fraction_score"), "absorption_hierarchy", "Mean absorption fraction",
            Variant: "concept hierarchy", AlternativeTo: "absorption"),
        new(new("sparse_probing", "sae.sae_top_1_test_accuracy"), "sparse_probing_top1", "Sparse probing accuracy", BaselinesApply: true,
            Variant: "top-1 latent"),
        new(new("unlearning", "unlearning.unlearning_score"), "unlearning", "Unlearning score"),
        new(new("autointerp", "autointerp.autointerp_score"), "autointerp", "Autointerp score"),
        // The offline stand-ins report under another name (never SAEBench's autointerp_score): their own panel.
        new(new("autointerp", "autointerp.offline_judge_score"), "autointerp_offline", "Offline judge score",
            Variant: "offline stand-in, not an LLM judge", AlternativeTo: "autointerp"),
        // SAEBench's paper panels for SCR and TPP use the top 20 latents; PCA/identity are SAEs to these two (their
        // latents can be ranked and ablated like any other), so their values are reference lines as SAEBench draws them.
        new(new("scr", "scr_metrics.scr_metric_threshold_20"), "scr_top20", "Spurious correlation removal", BaselinesApply: true,
            Variant: "top 20 latents ablated"),
        new(new("tpp", "tpp_metrics.tpp_threshold_20_total_metric"), "tpp_top20", "Targeted probe perturbation", BaselinesApply: true,
            Variant: "top 20 latents ablated"),
        new(new("ravel", "ravel.disentanglement_score"), "ravel", "RAVEL disentanglement", Variant: "(cause + isolation) / 2, MDBM mask"),
        new(new("meta_structure_decoder_variance", "meta_structure.decoder_fraction_variance_explained"), "meta_structure",
            "Meta-SAE variance explained", Variant: "k = 4, on decoder rows"),
        new(MdlDescriptionLength, "mdl", "MDL description length"),
    ];
}

/// <summary>The headline panels of one result set: an alternative panel replaces its primary when only it has values.</summary>
public static class HeadlinePanels
{
    public static IReadOnlyList<HeadlineMetric> For(ResultSet results) =>
        HeadlineMetrics.All.Where(m =>
        {
            if (m.AlternativeTo is { } primary)
                return results.HasValues(m.Key) && !HeadlineMetrics.All.Any(p => p.Slug == primary && results.HasValues(p.Key));
            bool replaced = HeadlineMetrics.All.Any(a => a.AlternativeTo == m.Slug && results.HasValues(a.Key));
            return !(replaced && !results.HasValues(m.Key));
        }).ToList();
}

/// <summary>Picks the MDL-optimal checkpoint: the smallest description length among SAE checkpoints
/// (not PCA/identity baselines) whose FVU is within the target.</summary>
public static class MdlSelection
{
    public const double DefaultFvuTarget = 0.1;

    /// <summary>The checkpoint id, or null when no checkpoint has both MDL metrics with FVU ≤ target.
    /// Ties go to the smaller id (ordinal) so the choice is deterministic.</summary>
    public static string? Optimal(ResultSet results, double fvuTarget)
    {
        string? best = null;
        double bestBits = double.PositiveInfinity;
        foreach (var c in results.Checkpoints.Where(c => !c.IsBaseline).OrderBy(c => c.Id, StringComparer.Ordinal))
        {
            if (results.Value(c.Id, HeadlineMetrics.MdlFvu) is not { } fvu || fvu > fvuTarget) continue;
            if (results.Value(c.Id, HeadlineMetrics.MdlDescriptionLength) is not { } bits) continue;
            if (bits < bestBits) { bestBits = bits; best = c.Id; }
        }
        return best;
    }
}
