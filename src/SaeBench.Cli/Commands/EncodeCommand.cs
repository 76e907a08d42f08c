using System.CommandLine;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;

namespace SaeBench.Cli.Commands;

/// <summary>
/// <c>saebench encode --checkpoint PATH --input FILE.safetensors [--tensor NAME] --output FILE.safetensors</c>: runs an SAE on
/// your own activations and writes float32 <c>f</c> (the code) and <c>x_hat</c> (the reconstruction, in the input's units).
/// </summary>
public static class EncodeCommand
{
    public static Command Create(CliContext context)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory or file (e.g. an ae.pt).", Required = true };
        var input = new Option<string>("--input") { Description = "safetensors file holding activations [..., d_in].", Required = true };
        var tensor = new Option<string?>("--tensor") { Description = "Tensor to encode (default: the only tensor in the file, or 'x')." };
        var output = new Option<string>("--output") { Description = "safetensors file to write with tensors f [..., d_sae] and x_hat [..., d_in].", Required = true };
        var allowNonFinite = new Option<bool>("--allow-non-finite") { Description = "Load a checkpoint with NaN/Inf weights instead of refusing it." };
        var command = new Command("encode", "Encode activations with an SAE and write its code f and reconstruction x_hat (float32).")
        {
            checkpoint, input, tensor, output, allowNonFinite,
        };
        command.SetAction(parse =>
        {
            var ckptPath = context.Harness.Resolve(parse.GetValue(checkpoint)!);
            var inputPath = context.Harness.Resolve(parse.GetValue(input)!);
            var outputPath = context.Harness.Resolve(parse.GetValue(output)!);
            var loaded = CheckpointLoader.Load(ckptPath, new LoadOptions(AllowNonFinite: parse.GetValue(allowNonFinite)));
            foreach (var w in loaded.Info.Warnings) context.Error.WriteLine($"warning: {w}");
            var sae = loaded.Sae;

            var (x, leading) = ReadInput(inputPath, parse.GetValue(tensor), sae.DIn);
            var f = new HostMatrix(x.Rows, sae.DSae);
            var xHat = new HostMatrix(x.Rows, sae.DIn);
            var backend = Harness.BackendCatalog.Cpu(context.Harness);
            sae.Encode(backend, x, f);
            sae.Decode(backend, f, xHat);

            SafetensorsWriter.Write(outputPath,
                [SafetensorsTensor.F32("f", f.ToArray(), [.. leading, sae.DSae]), SafetensorsTensor.F32("x_hat", xHat.ToArray(), [.. leading, sae.DIn])],
                new Dictionary<string, string>
                {
                    ["checkpoint"] = loaded.Info.Path,
                    ["checkpoint_sha256"] = loaded.Info.Sha256!, // always set when loaded
                    ["architecture"] = loaded.Info.Architecture,
                });
            long nonZero = f.Length - ((ReadOnlySpan<float>)f.Span).Count(0f);
            context.Out.WriteLine($"encoded {x.Rows} rows with {loaded.Info.Architecture} ({sae.DIn} → {sae.DSae}); " +
                                  $"mean L0 {(x.Rows == 0 ? 0 : (double)nonZero / x.Rows):F2}; wrote f and x_hat to {outputPath}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static (HostMatrix X, long[] Leading) ReadInput(string path, string? name, int dIn)
    {
        using var file = SafetensorsFile.Open(path);
        if (name is null)
        {
            name = file.Tensors.Count == 1 ? file.Tensors[0].Name
                : file.Contains("x") ? "x"
                : throw new CheckpointFormatException(path, "--tensor",
                    $"the file holds {file.Tensors.Count} tensors ({string.Join(", ", file.Tensors.Select(t => t.Name))}); name one with --tensor");
        }
        var info = file.Info(name);
        if (info.Shape.Count == 0 || info.Shape[^1] != dIn)
            throw new CheckpointFormatException(path, name, $"shape {info.ShapeText} does not end in the SAE's d_in = {dIn}");
        if (!info.DType.IsFloat()) throw new CheckpointFormatException(path, name, $"dtype {info.DType} is not a floating-point type");
        var x = file.ReadMatrix(name);
        for (int i = 0; i < x.Span.Length; i++)
            if (!float.IsFinite(x.Span[i])) throw new CheckpointFormatException(path, name, $"holds a non-finite value at element {i}");
        return (x, info.Shape.Take(info.Shape.Count - 1).ToArray());
    }
}
