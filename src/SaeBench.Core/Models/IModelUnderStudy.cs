namespace SaeBench.Core.Models;

/// <summary>
/// A model under study: something that produces activations at a hook point. Everything beyond activations
/// is an optional capability (<see cref="IDownstreamLoss"/>, <see cref="ILabelledTasks"/>,
/// <see cref="IGroundTruthFeatures"/>, <see cref="IExampleText"/>) asked for with <see cref="Capability{T}"/>.
/// </summary>
public interface IModelUnderStudy
{
    ModelInfo Info { get; }

    /// <summary>The activations at the hook for one split, streamed in batches.</summary>
    IActivationSource Activations(Split split);

    /// <summary>The capability <typeparamref name="T"/>, or null when this model does not have it.
    /// Decorators (caches) forward this, so ask here rather than with <c>is</c>.</summary>
    T? Capability<T>() where T : class;
}
