using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.Absorption;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Models.Synthetic;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Evals.Tests.Absorption;

public class AbsorptionEvaluatorTests
{
    private static readonly AbsorptionEvaluator Evaluator = new();

    private static EvalResult Run(EvaluationContext context, string options = """{"train_size": 2000, "test_size": 2000}""") =>
        SingleJob.Run(Evaluator, Evaluator.ParseOptions((JsonObject)JsonNode.Parse(options)!), context);

    /// <summary>Children rare enough (3 % · (j+1)^−0.6 given the parent) that no single child latent lifts the
    /// parent probe's F1 by the 0.03 jump, so the feature split is the parent latent alone.</summary>
    private static SyntheticWorld RareChildWorld() => EvalFixtures.World(EvalFixtures.SmallWorld with { ChildFiringRate = 0.03 });

    [Fact]
    public void OracleSaeHasNoAbsorption()
    {
        var world = RareChildWorld();
        var r = Run(EvalFixtures.Context(EvalFixtures.Oracle(world), world));

        Assert.Equal(world.Config.Parents, r.Details.Count);
        foreach (var row in r.Details)
        {
            Assert.True((bool)row["qualifies"]!);
            int parent = (int)row["parent_id"]!;
            Assert.Equal(new[] { parent }, ((JsonArray)row["split_latents"]!).Select(v => (int)v!));
        }
        Assert.InRange(r.Get("mean.mean_absorption_fraction_score")!.Value, 0, 0.05);
        Assert.InRange(r.Get("mean.absorption_score")!.Value, 0.95, 1);
        Assert.Equal(0, r.Get("mean.mean_full_absorption_score")!.Value, 3);
        Assert.Equal(1, r.Get("mean.mean_num_split_features"));
        Assert.Equal(0, r.Get("mean.std_dev_num_split_features"));
    }

    [Fact]
    public void ProbesAreTrainedAndThresholdedAtTheParentsNaturalPrevalence()
    {
        // Independent reference: each parent's prevalence over the whole train and test splits, from the world's labels.
        // The evaluator's shared uniform samples (2000 each) must show the same prevalence (binomial s.d. ≤ 0.012), not 50 %.
        var world = RareChildWorld();
        var tasks = world.Capability<ILabelledTasks>()!;
        var r = Run(EvalFixtures.Context(EvalFixtures.Oracle(world), world));
        Assert.Equal(2000, (int)r.Unstructured!["train_examples"]!);
        foreach (var row in r.Details)
        {
            int parent = (int)row["parent_id"]!;
            int trainPos = (int)row["train_positives"]!, trainNeg = (int)row["train_negatives"]!;
            int testPos = (int)row["test_positives"]!, testNeg = (int)row["test_negatives"]!;
            Assert.Equal(2000, trainPos + trainNeg);
            Assert.Equal(2000, testPos + testNeg);
            double trainPrevalence = tasks.Labels(Split.Train).ExamplesWith(parent).Average(b => b ? 1.0 : 0.0);
            double testPrevalence = tasks.Labels(Split.Test).ExamplesWith(parent).Average(b => b ? 1.0 : 0.0);
            Assert.InRange(trainPos / 2000.0, trainPrevalence - 0.05, trainPrevalence + 0.05);
            Assert.InRange(testPos / 2000.0, testPrevalence - 0.05, testPrevalence + 0.05);
            // The ground-truth probe is solved to convergence, not to sklearn's tolerance of 1e-4.
            Assert.True((double)row["probe_gradient_max_norm"]! < 1e-6, $"parent {parent}: gradient {row["probe_gradient_max_norm"]}");
        }
    }

    [Fact]
    public void AbsorbingSaeAbsorbsExactlyWhereAChildFires()
    {
        var world = RareChildWorld();
        var r = Run(EvalFixtures.Context(EvalFixtures.Absorbing(world), world));

        double expectedMean = 0;
        foreach (var row in r.Details)
        {
            Assert.True((bool)row["qualifies"]!);
            int parent = (int)row["parent_id"]!;
            Assert.Equal(new[] { parent }, ((JsonArray)row["split_latents"]!).Select(v => (int)v!));
            int withChild = (int)row["examples_with_a_child"]!, examples = (int)row["examples"]!;
            Assert.True(withChild > 0, $"parent {parent}: no probe-positive example with a child");
            Assert.InRange((double)row["mean_absorption_fraction_with_a_child"]!, 0.95, 1.0);
            Assert.InRange((double)row["mean_absorption_fraction_without_a_child"]!, 0, 0.05);
            // Where a child fires the parent latent is silent and the child latent carries the parent: full absorption.
            Assert.InRange((double)row["full_absorption_rate"]!, 0.9 * withChild / examples, 1.0 * withChild / examples + 0.02);
            expectedMean += (double)withChild / examples;
        }
        expectedMean /= r.Details.Count;
        Assert.InRange(r.Get("mean.mean_absorption_fraction_score")!.Value, expectedMean - 0.03, expectedMean + 0.03);
    }

    [Fact]
    public void AbsorbingSaeScoresOneOnChildActiveExamplesPerChild()
    {
        var world = RareChildWorld();
        var r = Run(EvalFixtures.Context(EvalFixtures.Absorbing(world), world));
        foreach (var child in r.Details.SelectMany(row => ((JsonArray)row["per_child"]!).Select(c => c!.AsObject())))
        {
            if ((int)child["examples"]! == 0) continue;
            Assert.InRange((double)child["mean_absorption_fraction"]!, 0.9, 1.0);
        }
    }

    [Fact]
    public void TooFewQualifyingParentsGivesAStatusAndNullMetrics()
    {
        var world = RareChildWorld();
        var r = Run(EvalFixtures.Context(EvalFixtures.Oracle(world), world),
            """{"train_size": 400, "test_size": 400, "min_parents": 5}""");

        Assert.All(r.Metrics, m => Assert.Null(m.Value));
        Assert.Equal(7, r.Metrics.Count);
        Assert.Contains("not enough qualifying parents", (string)r.Unstructured!["status"]!);
        Assert.Equal(4, (int)r.Unstructured!["parents_qualifying"]!);
    }

    [Fact]
    public void WeakProbesDisqualifyTheirParent()
    {
        // Activations carry no information: the probe cannot beat min_probe_f1, and no parent qualifies.
        var hierarchy = new ConceptHierarchy([new Concept(0, "parent", null), new Concept(1, "child", 0), new Concept(2, "other", null)]);
        var builder = FakeModelBuilder.Create(1).WithClasses("child", "other").WithHierarchy(hierarchy);
        foreach (var split in new[] { Split.Train, Split.Test })
        {
            var classes = Enumerable.Range(0, 100).Select(i => i % 2 == 0 ? 1 : 2).ToArray();
            var concepts = classes.Select(c => c == 1 ? new[] { 1, 0 } : new[] { 2 }).ToArray();
            builder.WithSplit(split, Enumerable.Repeat(1f, 100).ToArray(), classes.Select(c => c - 1).ToArray(), concepts: concepts);
        }
        var r = Run(EvalFixtures.Context(Sae.Identity(1), builder.Build()), """{"min_probe_f1": 0.9}""");

        var row = Assert.Single(r.Details);
        Assert.False((bool)row["qualifies"]!);
        Assert.Contains("min_probe_f1", (string)row["reason"]!);
        Assert.Null(r.Get("mean.absorption_score"));
        Assert.Contains("not enough qualifying parents", (string)r.Unstructured!["status"]!);
    }

    [Fact]
    public void ModelWithoutHierarchyIsNotApplicable()
    {
        var model = FakeModelBuilder.Create(2).WithClasses("a", "b").WithSplit(Split.Test, [1f, 2f], [0]).Build();
        var e = Assert.Throws<NotApplicableException>(() =>
            Evaluator.Start(EvalFixtures.Context(Sae.Identity(2), model), new AbsorptionOptions()));
        Assert.Contains("hierarchy", e.Message);
        var unlabelled = FakeModelBuilder.Create(2).WithSplit(Split.Test, [1f, 2f], [0]).Build();
        Assert.Throws<NotApplicableException>(() => Evaluator.Start(EvalFixtures.Context(Sae.Identity(2), unlabelled), new AbsorptionOptions()));
    }

    [Theory]
    [InlineData("""{"min_probe_f1": 1}""", "min_probe_f1")]
    [InlineData("""{"max_k": 0}""", "max_k")]
    [InlineData("""{"min_parents": 0}""", "min_parents")]
    [InlineData("""{"f1_jump": -1}""", "f1_jump")]
    public void BadOptionsNameTheField(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => Evaluator.ParseOptions((JsonObject)JsonNode.Parse(json)!));
        Assert.Contains(field, e.Message);
    }
}
