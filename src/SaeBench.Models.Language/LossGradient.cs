using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>One scored position: the loss term is <c>−log softmax(logits at row (Sequence·context + Position))[Token]</c>.</summary>
public readonly record struct TokenTarget(int Sequence, int Position, int Token);

/// <summary>
/// What <see cref="LanguageModel.GradientFromHook(HookPoint, HostMatrix, int, IReadOnlyList{TokenTarget})"/> returns:
/// per-target losses (natural log, same order as the targets) and <c>d(Σ losses)/d(value)</c>, shape <c>[B·T, d_model]</c>.
/// Dispose returns <see cref="Gradient"/> to the pool if rented.
/// </summary>
public sealed class LossGradient : IDisposable
{
    /// <summary>Wraps losses and a gradient (which the result then owns and disposes).</summary>
    public LossGradient(double[] losses, HostMatrix gradient)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentNullException.ThrowIfNull(gradient);
        Losses = losses;
        Gradient = gradient;
    }

    /// <summary><c>−log p(Token)</c> per target, in the targets' order.</summary>
    public double[] Losses { get; }

    /// <summary>The gradient of the summed loss with respect to the hook's value, <c>[B·T, d_model]</c>.</summary>
    public HostMatrix Gradient { get; }

    /// <summary>The summed loss (the function whose gradient <see cref="Gradient"/> is).</summary>
    public double TotalLoss => Losses.Sum();

    public void Dispose() => Gradient.Dispose();
}
