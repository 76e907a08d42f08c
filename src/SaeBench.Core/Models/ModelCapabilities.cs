namespace SaeBench.Core.Models;

/// <summary>Asking a model for a capability, and saying why an evaluator is not applicable when it lacks one.</summary>
public static class ModelCapabilities
{
    /// <summary>The capability, or false with a sentence an evaluator can report as "not applicable".</summary>
    public static bool TryGet<T>(this IModelUnderStudy model, out T capability, out string notApplicable) where T : class
    {
        var c = model.Capability<T>();
        if (c is not null)
        {
            capability = c;
            notApplicable = "";
            return true;
        }
        capability = null!;
        notApplicable = $"model '{model.Info.Id}' has no {Describe(typeof(T))}";
        return false;
    }

    private static string Describe(Type t) =>
        t == typeof(IDownstreamLoss) ? "forward pass from the hook (activations only), so downstream loss cannot be computed"
        : t == typeof(IExampleText) ? "text for its examples"
        : t == typeof(ITextModel) ? "tokenizer or text prompts (it is not a language model)"
        : t == typeof(ILabelledTextSource) ? "reader for labelled text datasets (it is not a language model)"
        : t == typeof(ILabelledTasks) ? "labels"
        : t == typeof(IGroundTruthFeatures) ? "known ground-truth features"
        : t == typeof(ITextInterventions) ? "greedy generation with an edit of the hook at one position"
        : t == typeof(IHookGradient) ? "gradient of the next-token loss with respect to the hook (language models have one at residual-stream hooks)"
        : t.Name;
}
