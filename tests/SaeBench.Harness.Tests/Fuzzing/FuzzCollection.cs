namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>
/// The fuzz runs are alone in their test process: each case has a wall-clock hang bound and a per-thread allocation
/// budget, and the heavy tests of this project (the language-model example, the paper pipeline) saturate the thread pool
/// with parallel numeric work — a loader's pooled work then waits behind it, and a case that takes milliseconds alone
/// crossed the hang bound twice in CI.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "fuzz";
}
