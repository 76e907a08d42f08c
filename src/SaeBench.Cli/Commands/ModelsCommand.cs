using SaeBench.Models.Language;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SaeBench.Core.Models;
using SaeBench.Models;

namespace SaeBench.Cli.Commands;

/// <summary>
/// <c>saebench models list</c> and <c>saebench models info ID</c>; also the <c>--model</c> / <c>--hook</c> options and
/// the model factory that later commands share. <see cref="CreateListModels"/> gives the same listing as a
/// <c>models</c> subcommand for <c>saebench list</c>.
/// </summary>
public static class ModelsCommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(CliContext context)
    {
        var command = new Command("models", "Models under study: list them, or show one's hook, width, sizes and accuracy.");
        command.Subcommands.Add(CreateList(context, "list"));
        command.Subcommands.Add(CreateInfo(context));
        return command;
    }

    /// <summary>The <c>models</c> subcommand of <c>saebench list</c> (same output as <c>saebench models list</c>).</summary>
    public static Command CreateListModels(CliContext context) => CreateList(context, "models");

    /// <summary><c>--hook NAME</c>: the hook point; the model's default when absent.</summary>
    public static Option<string?> HookOption() => new("--hook")
    {
        Description = "Hook point (fashion-mnist-mlp: mlp.hidden1, mlp.hidden1.pre, mlp.hidden2 [default], mlp.hidden2.pre).",
    };

    private static Command CreateList(CliContext context, string name)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of text." };
        var command = new Command(name, "List the models under study a --model option accepts.") { json };
        command.SetAction(parse =>
        {
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(JsonSerializer.Serialize(
                    ModelCatalog.Entries.Select(e => new { id = e.Spec, description = e.Description, default_hook = e.DefaultHook, hooks = e.Hooks }), Json));
                return ExitCodes.Success;
            }
            int width = ModelCatalog.Entries.Max(e => e.Spec.Length) + 2;
            foreach (var e in ModelCatalog.Entries)
            {
                context.Out.WriteLine(e.Spec.PadRight(width) + e.Description);
                context.Out.WriteLine(new string(' ', width) + $"hooks: {string.Join(", ", e.Hooks)} (default {e.DefaultHook})");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>What <c>models info --json</c> prints. Undefined values are null.</summary>
    public sealed record ModelReport(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("hook")] string Hook,
        [property: JsonPropertyName("d_model")] int DModel,
        [property: JsonPropertyName("positions")] int Positions,
        [property: JsonPropertyName("train_examples")] int TrainExamples,
        [property: JsonPropertyName("test_examples")] int TestExamples,
        [property: JsonPropertyName("test_accuracy")] double? TestAccuracy,
        [property: JsonPropertyName("classes")] IReadOnlyList<string>? Classes,
        [property: JsonPropertyName("forget_class")] string? ForgetClass,
        [property: JsonPropertyName("forward_from_hook")] bool ForwardFromHook,
        [property: JsonPropertyName("ground_truth_features")] int? GroundTruthFeatures,
        [property: JsonPropertyName("content_hash")] string ContentHash,
        [property: JsonPropertyName("description")] string Description,
        [property: JsonPropertyName("language_model")] LanguageModelReport? LanguageModel = null);

    /// <summary>What <c>models info hf:PATH --json</c> adds about a language model.</summary>
    public sealed record LanguageModelReport(
        [property: JsonPropertyName("family")] string Family,
        [property: JsonPropertyName("model_type")] string ModelType,
        [property: JsonPropertyName("path")] string Path,
        [property: JsonPropertyName("d_model")] int DModel,
        [property: JsonPropertyName("layers")] int Layers,
        [property: JsonPropertyName("heads")] int Heads,
        [property: JsonPropertyName("kv_heads")] int KvHeads,
        [property: JsonPropertyName("d_head")] int DHead,
        [property: JsonPropertyName("d_mlp")] int DMlp,
        [property: JsonPropertyName("vocabulary")] int Vocabulary,
        [property: JsonPropertyName("context")] int MaxPositions,
        [property: JsonPropertyName("stored_dtype")] string? StoredDType,
        [property: JsonPropertyName("parameters")] long Parameters,
        [property: JsonPropertyName("processing")] string Processing,
        [property: JsonPropertyName("prepend_bos")] bool PrependBos,
        [property: JsonPropertyName("hooks")] IReadOnlyList<string> Hooks);

    public static ModelReport Describe(IModelUnderStudy model)
    {
        var info = model.Info;
        var tasks = model.Capability<ILabelledTasks>()?.Tasks;
        string? forget = tasks?.ForgetConcept is int f ? tasks.Hierarchy.Concepts[f].Name : null;
        return new ModelReport(info.Id, info.Hook, info.DModel, info.Positions,
            model.Activations(Split.Train).Shape.Examples, model.Activations(Split.Test).Shape.Examples,
            info.TestAccuracy, tasks?.ClassNames, forget,
            model.Capability<IDownstreamLoss>() is not null,
            model.Capability<IGroundTruthFeatures>()?.Directions.Rows,
            info.ContentHash, info.Description,
            model.Capability<LanguageModelUnderStudy>() is { } lm ? DescribeLanguageModel(lm) : null);
    }

    private static LanguageModelReport DescribeLanguageModel(LanguageModelUnderStudy lm)
    {
        var c = lm.Model.Config;
        return new LanguageModelReport(c.Family.ToString(), c.ModelType, lm.Model.Source ?? "", c.DModel, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.DMlp,
            c.Vocab, c.MaxPositions, c.DeclaredDType, lm.Model.Weights.ParameterCount(), lm.Model.Processing.ToString(), lm.PrependsBos,
            lm.Model.Hooks.All.Select(h => h.Name).ToList());
    }

    private static Command CreateInfo(CliContext context)
    {
        var id = new Argument<string>("model") { Description = "fashion-mnist-mlp, synthetic, file:PATH[,labels=CSV], or hf:PATH[,hook=…][,processing=…][,context=N][,dataset=PATH]." };
        var hook = HookOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var command = new Command("info", "Show a model's hook, d_model, split sizes, capabilities and (where it has a classifier) test accuracy. " +
                                          "The Fashion-MNIST MLP is trained on first use (seconds) and cached in .saebench-cache/ or $" + Harness.HarnessEnvironment.CacheVariable + ".")
        {
            id, hook, json,
        };
        command.SetAction(parse =>
        {
            var model = ModelCatalog.Create(parse.GetValue(id)!, context.Harness.ModelOptions(parse.GetValue(hook)));
            var r = Describe(model);
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(JsonSerializer.Serialize(r, Json));
                return ExitCodes.Success;
            }
            var o = context.Out;
            var ci = CultureInfo.InvariantCulture;
            o.WriteLine($"id:            {r.Id}");
            o.WriteLine($"description:   {r.Description}");
            o.WriteLine($"hook:          {r.Hook}");
            o.WriteLine($"d_model:       {r.DModel}");
            o.WriteLine($"positions:     {r.Positions}");
            o.WriteLine($"examples:      train {r.TrainExamples.ToString(ci)}, test {r.TestExamples.ToString(ci)}");
            o.WriteLine($"test accuracy: {(r.TestAccuracy is double a ? a.ToString("P2", ci) : "n/a")}");
            o.WriteLine($"classes:       {(r.Classes is null ? "none (unlabelled)" : $"{r.Classes.Count}: {string.Join(", ", r.Classes.Take(12))}{(r.Classes.Count > 12 ? ", …" : "")}")}");
            if (r.ForgetClass is not null) o.WriteLine($"forget class:  {r.ForgetClass}");
            o.WriteLine($"forward pass:  {(r.ForwardFromHook ? "yes (downstream-loss evaluators apply)" : "no (downstream-loss evaluators are not applicable)")}");
            if (r.GroundTruthFeatures is int n) o.WriteLine($"ground truth:  {n} known feature directions");
            if (r.LanguageModel is { } l)
            {
                o.WriteLine($"family:        {l.Family} ({l.ModelType}), {l.Layers} layers, d_model {l.DModel}, heads {l.Heads} (kv {l.KvHeads}, d_head {l.DHead}), d_mlp {l.DMlp}");
                o.WriteLine($"vocabulary:    {l.Vocabulary.ToString(ci)}, positions {l.MaxPositions.ToString(ci)}, stored {l.StoredDType ?? "?"}, {l.Parameters.ToString("N0", ci)} parameters");
                o.WriteLine($"processing:    {l.Processing}; BOS prepended: {(l.PrependBos ? "yes" : "no")}");
                o.WriteLine($"hooks:         {l.Hooks.Count} ({string.Join(", ", l.Hooks.Take(6))}{(l.Hooks.Count > 6 ? ", …" : "")})");
            }
            o.WriteLine($"content hash:  {r.ContentHash}");
            return ExitCodes.Success;
        });
        return command;
    }
}
