using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Models;

/// <summary>The capabilities of the model contract, exercised through the test kit's fake.</summary>
public class ModelContractTests
{
    [Fact]
    public void Examples_carry_named_attributes_besides_their_class()
    {
        var model = FakeModelBuilder.Create(1).WithClasses("nurse", "surgeon").WithAttribute("gender", "female", "male")
            .WithSplit(Split.Test, [1f, 2f, 3f], [0, 1, 1], attributes: new Dictionary<string, int[]> { ["gender"] = [0, 0, 1] })
            .Build();
        var tasks = model.Capability<ILabelledTasks>()!;
        Assert.Equal("gender", Assert.Single(tasks.Tasks.Attributes).Name);
        var labels = tasks.Labels(Split.Test);
        Assert.Equal(new[] { 0, 0, 1 }, labels.Attribute("gender").ToArray());
        Assert.Equal(new[] { 0, 1, 1 }, labels.Classes.ToArray());
        var e = Assert.Throws<KeyNotFoundException>(() => labels.Attribute("age").ToArray());
        Assert.Contains("gender", e.Message);
    }

    [Fact]
    public void Attribute_values_must_cover_every_example()
    {
        Assert.Throws<ArgumentException>(() => new ExampleLabels([0, 1], 1, new ulong[2], new Dictionary<string, int[]> { ["a"] = [1] }));
    }

    [Fact]
    public void Batches_identify_their_inputs_by_split_and_example()
    {
        var model = FakeModelBuilder.Create(1, positions: 2).WithSplit(Split.Train, [1f, 2f, 3f, 4f, 5f, 6f], [0, 1, 2]).Build();
        var batches = model.Activations(Split.Train).Batches(maxRows: 4, 1..3).ToList();
        Assert.All(batches, b => Assert.Equal(Split.Train, b.Split));
        Assert.Equal(new[] { 1, 1, 2, 2 }, batches.SelectMany(b => b.ExampleIndex.ToArray()));
    }

    /// <summary>A linear readout: logits (0, ln 3) for class 1 → CE ln(4/3); the clean values spliced back give KL 0.</summary>
    [Fact]
    public void Downstream_loss_hands_back_per_row_statistics_not_logits()
    {
        var model = FakeModelBuilder.Create(1).WithSplit(Split.Test, [1f, 1f], [1, -1]).WithReadout([0f, (float)Math.Log(3)], classes: 2).Build();
        var downstream = model.Capability<IDownstreamLoss>()!;
        var batch = model.Activations(Split.Test).Batches(8).Single();
        using var zeros = new HostMatrix(2, 1);
        var c = downstream.Compare(batch, [batch.Activations, zeros]);

        Assert.Equal(Math.Log(4.0 / 3), c.Clean.CrossEntropy[0], 6);
        Assert.True(c.Clean.Correct[0]);
        Assert.Equal([true, false], c.Clean.HasTarget);
        Assert.Equal(c.Clean.CrossEntropy[0], c.Replaced[0].CrossEntropy[0]);
        Assert.Equal([0.0, 0.0], c.Replaced[0].KlFromClean);
        // zeros → uniform: CE ln 2, KL(p‖u) = Σ p log(2p) with p = (1/4, 3/4)
        Assert.Equal(Math.Log(2), c.Replaced[1].CrossEntropy[0], 6);
        Assert.Equal(0.25 * Math.Log(0.5) + 0.75 * Math.Log(1.5), c.Replaced[1].KlFromClean[0], 6);
        Assert.False(c.Replaced[1].Correct[0]); // a tie picks class 0
    }

    [Fact]
    public void Example_text_is_an_optional_capability()
    {
        var plain = FakeModelBuilder.Create(1).WithSplit(Split.Test, [1f], [0]).Build();
        Assert.False(plain.TryGet<IExampleText>(out _, out var why));
        Assert.Contains("text", why);
        var text = FakeModelBuilder.Create(1).WithSplit(Split.Test, [1f], [0]).WithTokens((_, e) => [$"tok{e}"]).Build();
        Assert.Equal(["tok0"], text.Capability<IExampleText>()!.Tokens(Split.Test, 0));
    }
}
