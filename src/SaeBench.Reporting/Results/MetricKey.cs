using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
namespace SaeBench.Reporting.Results;

/// <summary>A metric of an evaluator: <c>eval_type_id</c> plus metric id. Printed as <c>eval_type_id/category.name</c>.</summary>
public readonly record struct MetricKey(string EvalTypeId, string MetricId)
{
    public override string ToString() => EvalTypeId + "/" + MetricId;
}
