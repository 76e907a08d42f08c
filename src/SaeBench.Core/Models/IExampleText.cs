namespace SaeBench.Core.Models;

/// <summary>
/// What an example looks like to a person, for evaluators that show contexts (autointerp): the text of each position
/// (a language model's token strings). Models whose examples are not text do not have this capability.
/// </summary>
public interface IExampleText
{
    /// <summary>One string per position of the example (its token as text).</summary>
    IReadOnlyList<string> Tokens(Split split, int example);
}
