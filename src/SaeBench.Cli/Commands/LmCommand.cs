using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;
using SaeBench.Models.Language;

namespace SaeBench.Cli.Commands;

/// <summary>
/// <c>saebench lm forward|tokenize</c> (debugging a language model snapshot against other tools) and
/// <c>saebench bench lm</c> (forward-pass throughput).
/// </summary>
public static class LmCommand
{
    public static Command Create(CliContext context)
    {
        var lm = new Command("lm", "Run a Hugging Face language-model snapshot: full forward with hooks and splices, or tokenization.");
        lm.Subcommands.Add(Forward(context));
        lm.Subcommands.Add(Tokenize(context));
        return lm;
    }

    private static Option<string> ModelOption(bool required) => new("--model")
    {
        Description = "A snapshot folder (config.json, model.safetensors or shards, tokenizer.json) or a Hub cache folder models--org--name.",
        Required = required,
    };

    private static Command Forward(CliContext context)
    {
        var model = ModelOption(required: true);
        var inputIds = new Option<string>("--input-ids") { Description = "A safetensors file with the token ids, [B, T] (or [T]), integer dtype.", Required = true };
        var tensor = new Option<string>("--tensor") { Description = "Name of the ids tensor in --input-ids.", DefaultValueFactory = _ => "input_ids" };
        var hooks = new Option<string?>("--hooks") { Description = "Hooks to write: all, or a comma-separated list of TransformerLens names (blocks.L.hook_resid_post, blocks.L.attn.hook_z, …)." };
        var processing = new Option<string>("--processing")
        {
            Description = "Weight processing: none (Hugging Face), tl-default (HookedTransformer.from_pretrained), or flags fold_ln,center_writing_weights,center_unembed,fold_value_biases.",
            DefaultValueFactory = _ => "none",
        };
        var splice = new Option<string?>("--splice") { Description = "HOOK=FILE.safetensors:TENSOR — replace the hook's value with the tensor ([B, T, …]) and continue the pass." };
        var output = new Option<string>("--output") { Description = "Output safetensors: float32 logits [B,T,V], loss [B,T-1] and each hook under its name.", Required = true };
        var command = new Command("forward", "Full forward pass of a snapshot over given token ids; writes logits, loss and hooks (debugging; the full logits are materialised).")
        {
            model, inputIds, tensor, hooks, processing, splice, output,
        };
        command.SetAction(parse => Guard(() =>
        {
            var p = WeightProcessing.Parse(parse.GetValue(processing)!);
            var lm = LanguageModel.Load(Resolve(context, parse.GetValue(model)!), new LanguageModelOptions(p));
            var tokens = ReadIds(Resolve(context, parse.GetValue(inputIds)!), parse.GetValue(tensor)!);
            var wanted = parse.GetValue(hooks) is { } h ? lm.ResolveAll(h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) : [];
            using var collector = new HookCollector();
            IHookHandler handler = collector;
            var observed = new HashSet<HookPoint>(wanted);
            HostMatrix? spliceValue = null;
            if (parse.GetValue(splice) is { } s)
            {
                var (hook, value) = ReadSplice(context, lm, s, tokens);
                spliceValue = value;
                handler = new SpliceHandler(hook, value, new Only(wanted, collector));
                observed.Add(hook);
            }
            using (spliceValue)
            using (var result = lm.Forward(tokens, new ForwardOptions(observed, handler)))
            {
                using var logits = lm.Logits(result.RequireHidden());
                var loss = new LossEvaluator(lm).TokenLosses(result.RequireHidden(), tokens);
                var tensors = new List<SafetensorsTensor>
                {
                    SafetensorsTensor.F32("logits", logits.ToArray(), tokens.Batch, tokens.Context, lm.Config.Vocab),
                    SafetensorsTensor.F32("loss", loss, tokens.Batch, tokens.Context - 1),
                };
                foreach (var hook in wanted)
                {
                    var value = collector.Values[hook.Name];
                    long[] shape = hook.Kind == HookKind.Z
                        ? [tokens.Batch, tokens.Context, lm.Config.Heads, lm.Config.HeadDim]
                        : [tokens.Batch, tokens.Context, value.Cols];
                    tensors.Add(SafetensorsTensor.F32(hook.Name, value.ToArray(), shape));
                }
                string path = Path.GetFullPath(parse.GetValue(output)!, context.WorkingDirectory);
                SafetensorsWriter.Write(path, tensors, new Dictionary<string, string>
                {
                    ["format"] = "pt",
                    ["model"] = lm.Source ?? "",
                    ["processing"] = lm.Processing.ToString(),
                });
                context.Out.WriteLine($"{path}: logits [{tokens.Batch}, {tokens.Context}, {lm.Config.Vocab}], loss (mean {loss.Average():F4}), {wanted.Count} hook(s)");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Tokenize(CliContext context)
    {
        var model = ModelOption(required: true);
        var text = new Option<string>("--text") { Description = "Text to tokenize.", Required = true };
        var prependBos = new Option<bool?>("--prepend-bos") { Description = "Override the family's BOS rule (true/false)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {ids, decoded, bos_prepended}." };
        var command = new Command("tokenize", "Token ids of a text with the snapshot's tokenizer.json and the family's BOS rule (TransformerLens's).")
        {
            model, text, prependBos, json,
        };
        command.SetAction(parse => Guard(() =>
        {
            string folder = HfSnapshot.ResolveDirectory(Resolve(context, parse.GetValue(model)!));
            var config = HfConfig.Read(Path.Combine(folder, "config.json"));
            using var tokenizer = LmTokenizer.Load(folder, config);
            var ids = tokenizer.Encode(parse.GetValue(text)!, parse.GetValue(prependBos));
            bool bos = ids.Length > 0 && ids[0] == tokenizer.BosTokenId && (parse.GetValue(prependBos) ?? tokenizer.DefaultPrependBos);
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(new { ids, decoded = tokenizer.Decode(ids), bos_prepended = bos }));
            else
                context.Out.WriteLine(string.Join(' ', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))));
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary><c>saebench bench lm</c>: forward-pass tokens/s of a snapshot or of a random model of a real shape.</summary>
    public static Command Bench(CliContext context)
    {
        var model = ModelOption(required: false);
        var shape = new Option<string?>("--shape") { Description = $"A random-weight model of a real shape, built in memory: {string.Join(", ", RandomTransformer.ShapeNames)}." };
        var tokens = new Option<int>("--tokens") { Description = "Tokens per forward pass (a multiple of --context).", DefaultValueFactory = _ => 1024 };
        var ctx = new Option<int>("--context") { Description = "Context length T.", DefaultValueFactory = _ => 128 };
        var repeats = new Option<int>("--repeats") { Description = "Timed passes after one warm-up.", DefaultValueFactory = _ => 5 };
        var noLogits = new Option<bool>("--no-logits") { Description = "Stop at the final hidden state (skip the [tokens, vocab] unembedding)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("lm", "Time the language-model forward pass (whole model plus full logits) and report tokens/s and GFLOP/s.")
        {
            model, shape, tokens, ctx, repeats, noLogits, json,
        };
        command.SetAction(parse => Guard(() =>
        {
            int n = parse.GetValue(tokens), t = parse.GetValue(ctx), reps = parse.GetValue(repeats);
            if (t <= 0 || n < t || n % t != 0) throw new UserInputException($"--tokens ({n}) must be a positive multiple of --context ({t}).");
            if (reps <= 0) throw new UserInputException("--repeats must be positive.");
            string? dir = parse.GetValue(model), shapeName = parse.GetValue(shape);
            if (dir is null == shapeName is null) throw new UserInputException("Give exactly one of --model DIR or --shape NAME.");
            var lm = dir is not null
                ? LanguageModel.Load(Resolve(context, dir))
                : RandomTransformer.Model(RandomTransformer.Shape(shapeName!));
            var r = ForwardBenchmark.Run(lm, n / t, t, reps, logits: !parse.GetValue(noLogits), name: dir ?? shapeName);
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    model = r.Model, batch = r.Batch, context = r.Context, logits = r.Logits, gemm = r.Gemm,
                    best_tokens_per_s = r.BestTokensPerSecond, median_tokens_per_s = r.MedianTokensPerSecond,
                    forward_gflop = r.ForwardGflop, best_gflops = r.BestGflops,
                    seconds = r.Timings.Select(x => x.Seconds).ToArray(),
                }));
            else
            {
                foreach (var x in r.Timings) context.Out.WriteLine($"pass {x.Repetition}: {x.Seconds:F3} s  {x.TokensPerSecond:F1} tokens/s");
                context.Out.WriteLine($"{r.Model}: {r.Batch}×{r.Context} tokens{(r.Logits ? " + logits" : "")}, best {r.BestTokensPerSecond:F1} tokens/s, " +
                                      $"median {r.MedianTokensPerSecond:F1} tokens/s, {r.BestGflops:F1} GFLOP/s ({r.ForwardGflop:F1} GFLOP per pass; GEMM: {r.Gemm})");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string Resolve(CliContext context, string path) => Path.GetFullPath(path, context.WorkingDirectory);

    private static TokenBatch ReadIds(string path, string name)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.TryGet(name, out var info))
            throw new UserInputException($"{path}: no tensor '{name}' (tensors: {string.Join(", ", file.Tensors.Select(t => t.Name))}).");
        var ids = file.ReadInt64(name);
        return info.Shape.Count switch
        {
            1 => TokenBatch.FromInt64(ids, 1, ids.Length),
            2 => TokenBatch.FromInt64(ids, (int)info.Shape[0], (int)info.Shape[1]),
            _ => throw new UserInputException($"{path}: tensor '{name}' has shape {info.ShapeText}; expected [B, T] or [T]."),
        };
    }

    private static (HookPoint Hook, HostMatrix Value) ReadSplice(CliContext context, LanguageModel lm, string spec, TokenBatch tokens)
    {
        int eq = spec.IndexOf('='), colon = spec.LastIndexOf(':');
        if (eq <= 0 || colon <= eq + 1 || colon == spec.Length - 1)
            throw new UserInputException($"--splice '{spec}': expected HOOK=FILE.safetensors:TENSOR.");
        var hook = lm.Hooks.Resolve(spec[..eq]);
        string path = Resolve(context, spec[(eq + 1)..colon]);
        string name = spec[(colon + 1)..];
        using var file = SafetensorsFile.Open(path);
        var info = file.TryGet(name, out var i) ? i : throw new UserInputException($"{path}: no tensor '{name}'.");
        int width = lm.Hooks.Width(hook);
        if (info.ElementCount != (long)tokens.Tokens * width)
            throw new UserInputException($"{path}: tensor '{name}' {info.ShapeText} does not hold [{tokens.Batch}, {tokens.Context}, {width}] values for {hook.Name}.");
        var value = new HostMatrix(tokens.Tokens, width);
        file.ReadSingle(name, 0, value.Span);
        return (hook, value);
    }

    /// <summary>Bad input from the library (files, fields, hook names) becomes one line and exit code 2.</summary>
    private static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or CheckpointFormatException)
        {
            throw new UserInputException(e.Message, e);
        }
    }

    /// <summary>Hands on only the hooks the user asked to write (a splice observes its own hook too).</summary>
    private sealed class Only(IReadOnlyCollection<HookPoint> hooks, IHookHandler inner) : IHookHandler
    {
        private readonly HashSet<HookPoint> _hooks = [.. hooks];

        public void OnHook(HookPoint hook, HostMatrix value)
        {
            if (_hooks.Contains(hook)) inner.OnHook(hook, value);
        }
    }
}
