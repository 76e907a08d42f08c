using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SaeBench.Core.Checkpoints;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench inspect PATH [--json]</c>: what a checkpoint is, streamed (weights are never all in memory at once).</summary>
public static class InspectCommand
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Create(CliContext context)
    {
        var path = new Argument<string>("path") { Description = "A checkpoint directory, or a file in one (ae.pt, cfg.json, a .safetensors weights file)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (format, architecture, d_in, d_sae, dtype, k, threshold, decoder_norms, sha256, …)." };
        var allowNonFinite = new Option<bool>("--allow-non-finite") { Description = "Report NaN/Inf weights instead of refusing the checkpoint." };
        var quick = new Option<bool>("--quick")
        {
            Description = "Read only the configuration, the tensor index and the per-latent vectors: no matrix is read, so the SHA-256, " +
                          "decoder norms and NaN/Inf check are shown only if remembered from an earlier read of the unchanged files.",
        };
        var noCache = new Option<bool>("--no-cache")
        {
            Description = "Read every byte again instead of using what an earlier read of the unchanged files found, and do not remember the result.",
        };
        var command = new Command("inspect",
            "Show a checkpoint's format, architecture, widths, dtype, k or threshold statistics, decoder-norm statistics and SHA-256. " +
            "The weights are streamed (memory stays small) and read once: the SHA-256, decoder norms and NaN/Inf counts are remembered " +
            "in the cache directory (.saebench-cache/" + Harness.HarnessEnvironment.DigestFolder + "/, or under $SAEBENCH_CACHE) while the files " +
            "keep their path, size, modification time and first and last 64 KiB, so inspecting the same checkpoint again reads no weights.")
        {
            path, json, allowNonFinite, quick, noCache,
        };
        command.SetAction(parse =>
        {
            var full = context.Harness.Resolve(parse.GetValue(path)!);
            var options = new LoadOptions(AllowNonFinite: parse.GetValue(allowNonFinite),
                Digests: parse.GetValue(noCache) ? null : context.Harness.Digests());
            var depth = parse.GetValue(quick) ? InspectDepth.Quick : InspectDepth.Full;
            if (depth == InspectDepth.Full) AnnounceLongRead(context, full, options.Digests);
            var info = CheckpointLoader.Inspect(full, options, depth);
            if (parse.GetValue(json)) context.Out.WriteLine(JsonSerializer.Serialize(info, Json));
            else Print(context.Out, info);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Files at least this large get a line on stderr before they are read (a full read takes seconds).</summary>
    private const long AnnounceBytes = 256L << 20;

    /// <summary>Says on stderr, before a read that takes a while, what is being read and how to avoid it next time.</summary>
    private static void AnnounceLongRead(CliContext context, string path, CheckpointDigestCache? digests)
    {
        CheckpointLayout layout;
        try
        {
            layout = CheckpointLoader.Detect(path);
        }
        catch (CheckpointFormatException)
        {
            return; // inspecting reports it properly
        }
        long bytes = CheckpointHash.BytesToHash(layout);
        if (bytes < AnnounceBytes || digests?.TryGet(layout)?.Scan is not null) return;
        context.Error.WriteLine($"reading {Bytes(bytes)} once for the SHA-256 and the NaN/Inf scan" +
                                (digests is null ? "" : " (remembered for the next inspect or run of these files)") + "; --quick reads no matrix");
    }

    private static void Print(TextWriter o, CheckpointInfo i)
    {
        string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        string Stats(SummaryStats? s) => s is null ? "—" : $"min {F(s.Min)}, mean {F(s.Mean)}, max {F(s.Max)} (n = {s.Count})";
        string NotRead(string what) => $"— (not read: --quick{what})";
        o.WriteLine($"path:          {i.Path}");
        o.WriteLine($"format:        {i.Format}{(i.FormatVersion is null ? "" : " " + i.FormatVersion)}");
        o.WriteLine($"architecture:  {i.Architecture}{(i.ArchitectureName is null ? "" : $" (as '{i.ArchitectureName}')")}");
        o.WriteLine($"d_in × d_sae:  {i.DIn} × {i.DSae}");
        o.WriteLine($"dtype:         {i.Dtype}");
        if (i.K is { } k) o.WriteLine($"k:             {k}");
        if (i.ScalarThreshold is { } t) o.WriteLine($"threshold:     {F(t)} (scalar)");
        if (i.Threshold is not null) o.WriteLine($"threshold:     {Stats(i.Threshold)}");
        if (i.GroupSizes is not null) o.WriteLine($"group sizes:   {string.Join(", ", i.GroupSizes)}");
        o.WriteLine($"decoder norms: {(i.DecoderNorms is null && i.Scan == InspectScan.Skipped ? NotRead("") : Stats(i.DecoderNorms))}");
        o.WriteLine($"b_dec on x:    {(i.ApplyBDecToInput ? "subtracted before encoding" : "not subtracted")}");
        if (i.InputScale != 1f) o.WriteLine($"input scale:   {F(i.InputScale)} (x is multiplied by it before encoding)");
        if (i.ModelName is not null || i.HookName is not null) o.WriteLine($"model / hook:  {i.ModelName ?? "?"} / {i.HookName ?? "?"}");
        o.WriteLine($"files:         {string.Join(", ", i.Files.Select(Path.GetFileName))}");
        o.WriteLine($"sha256:        {i.Sha256 ?? NotRead("; run without --quick to compute it")}");
        long read = i.BytesRead ?? 0;
        o.WriteLine($"weights read:  {i.Scan switch
        {
            InspectScan.Full => $"all, now ({Bytes(read)}: every tensor, and every file byte for the SHA-256)",
            InspectScan.Cached => "none: remembered from an earlier read of the unchanged files" + (read > 0 ? $" ({Bytes(read)} of per-latent vectors read)" : ""),
            _ => "none (--quick)" + (read > 0 ? $"; {Bytes(read)} of per-latent vectors read" : ""),
        }}");
        foreach (var w in i.Warnings) o.WriteLine($"warning:       {w}");
    }

    private static string Bytes(long n) => n switch
    {
        < 1024 => $"{n} B",
        < 1024 * 1024 => (n / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KiB",
        < 1024L * 1024 * 1024 => (n / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB",
        _ => (n / (1024.0 * 1024 * 1024)).ToString("0.##", CultureInfo.InvariantCulture) + " GiB",
    };
}
