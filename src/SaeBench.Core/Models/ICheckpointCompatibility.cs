using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Models;

/// <summary>
/// A model that can tell whether an SAE was made for it, beyond the width: the SAE's recorded model name, hook name and
/// the weight processing its activations were taken with (SAELens's <c>model_from_pretrained_kwargs</c>). The runner
/// refuses a checkpoint with problems unless the run allows the mismatch explicitly.
/// </summary>
public interface ICheckpointCompatibility
{
    /// <summary>What does not fit, one sentence each naming the checkpoint field (empty when everything fits or cannot
    /// be compared).</summary>
    IReadOnlyList<string> Problems(SaeConfig config);
}
