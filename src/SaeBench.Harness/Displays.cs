using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Training.Suites;

namespace SaeBench.Harness;

/// <summary>Shows a run's jobs while they run: <paramref name="run"/> is called once, inside whatever display the
/// implementation keeps (progress bars, log lines), with the observer that feeds it.</summary>
public interface IRunDisplay
{
    T Show<T>(Func<IRunObserver, T> run);
}

/// <summary>Shows a suite's training while it runs (the suite, its model and directory say what is being trained).</summary>
public interface ITrainingDisplay
{
    T Show<T>(SuiteDefinition suite, IModelUnderStudy model, string directory, Func<IProgress<SuiteProgress>, T> train);
}

/// <summary>The displays a pipeline reports to; the defaults show nothing.</summary>
public sealed record HarnessDisplays(IRunDisplay Jobs, ITrainingDisplay Training)
{
    public static HarnessDisplays None { get; } = new(new NoRunDisplay(), new NoTrainingDisplay());

    private sealed class NoRunDisplay : IRunDisplay
    {
        public T Show<T>(Func<IRunObserver, T> run) => run(new NullRunObserver());
    }

    private sealed class NoTrainingDisplay : ITrainingDisplay
    {
        public T Show<T>(SuiteDefinition suite, IModelUnderStudy model, string directory, Func<IProgress<SuiteProgress>, T> train) => train(new Progress<SuiteProgress>());
    }
}
