using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Evals.Absorption;
using SaeBench.Evals.Autointerp;
using SaeBench.Evals.CoreEval;
using SaeBench.Evals.GroundTruth;
using SaeBench.Evals.Mdl;
using SaeBench.Evals.MetaStructure;
using SaeBench.Evals.Ravel;
using SaeBench.Evals.ScrTpp;
using SaeBench.Evals.SparseProbing;
using SaeBench.Evals.Unlearning;

namespace SaeBench.Evals;

/// <summary>Every built-in evaluator, registered in this one place, in the order runs execute them.</summary>
public static class EvaluatorRegistry
{
    public static IReadOnlyList<IEvaluator> BuiltIn() =>
    [
        new CoreEvaluator(),
        new SparseProbingEvaluator(),
        new FirstLetterAbsorptionEvaluator(),
        new AbsorptionEvaluator(),
        new UnlearningEvaluator(),
        new AutointerpEvaluator(),
        new MdlEvaluator(),
        new GroundTruthEvaluator(),
        new ScrEvaluator(),
        new TppEvaluator(),
        new MetaStructureEvaluator(),
        new RavelEvaluator(),
    ];

    /// <summary>The evaluator with this id, or a <see cref="ConfigException"/> listing the valid ids.</summary>
    public static IEvaluator Find(IReadOnlyList<IEvaluator> evaluators, string id) =>
        evaluators.FirstOrDefault(e => e.Info.Id == id)
        ?? throw new ConfigException(Suggest.UnknownName("evaluator", id, evaluators.Select(e => e.Info.Id)));
}
