using System.Text.Json.Nodes;
using SaeBench.Core.Evaluation;

namespace SaeBench.Core.Tests.Running;

internal sealed record FakeOptions : EvaluatorOptions
{
    public double Scale { get; init; } = 1;
}

/// <summary>Reports the mean of x̂ over all batches it saw (times <c>scale</c>) and counts how often it ran.</summary>
internal sealed class MeanEvaluator(string id = "mean", string version = "1") : Evaluator<FakeOptions>
{
    public static readonly MetricDescriptor Mean = new("stats", "mean_xhat", "Mean x̂", "activation", true);
    public int Starts { get; private set; }
    public override EvaluatorInfo Info { get; } = new(id, "Mean", "test evaluator", Version: version);

    protected override IEvaluationJob Start(EvaluationContext context, FakeOptions options)
    {
        Starts++;
        return new Job(options.Scale);
    }

    private sealed class Job(double scale) : IEvaluationJob
    {
        private double _sum;
        private long _n;

        public void Observe(SaeBatch batch)
        {
            foreach (var v in batch.XHat.Span) { _sum += v; _n++; }
        }

        public EvalResult Complete(CancellationToken cancellation) =>
            new([MetricValue.Of(Mean, _sum / _n * scale)], [new JsonObject { ["n"] = _n }]);
    }
}

/// <summary>Fails in the chosen phase.</summary>
internal sealed class ThrowingEvaluator(string phase) : Evaluator<FakeOptions>
{
    public override EvaluatorInfo Info { get; } = new("throws_" + phase, "Throws", "test evaluator", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, FakeOptions options) =>
        phase switch
        {
            "start" => throw new InvalidOperationException("boom at start"),
            "na" => throw new NotApplicableException("needs ground truth"),
            _ => new Job(phase),
        };

    private sealed class Job(string phase) : IEvaluationJob
    {
        public void Observe(SaeBatch batch)
        {
            if (phase == "observe") throw new InvalidOperationException("boom in observe");
        }

        public EvalResult Complete(CancellationToken cancellation) =>
            phase == "complete" ? throw new InvalidOperationException("boom in complete") : EvalResult.Empty;
    }
}

/// <summary>Cancels the run's token when it sees its n-th batch.</summary>
internal sealed class CancellingEvaluator(CancellationTokenSource cts, int atBatch) : Evaluator<FakeOptions>
{
    public override EvaluatorInfo Info { get; } = new("cancels", "Cancels", "test evaluator", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, FakeOptions options) => new Job(cts, atBatch);

    private sealed class Job(CancellationTokenSource cts, int atBatch) : IEvaluationJob
    {
        private int _seen;

        public void Observe(SaeBatch batch)
        {
            if (++_seen == atBatch) cts.Cancel();
        }

        public EvalResult Complete(CancellationToken cancellation) => EvalResult.Empty;
    }
}
