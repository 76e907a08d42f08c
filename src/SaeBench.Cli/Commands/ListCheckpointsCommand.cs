using System.CommandLine;
using System.Text.Json;
using SaeBench.Core.Registry;
using Spectre.Console;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench list checkpoints [--config FILE] [--dir DIR] [--json]</c>.</summary>
public static class ListCheckpointsCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string?>("--config") { Description = "A YAML config whose 'checkpoints:' section lists path:, glob: or release: entries (releases are found in the Hugging Face cache)." };
        var dir = new Option<string?>("--dir") { Description = "Scan this directory for checkpoints instead (default: the current directory)." };
        var hash = new Option<bool>("--hash") { Description = "Also show each checkpoint's SHA-256 (reads every weight file not read since it last changed)." };
        var json = new Option<bool>("--json") { Description = "One JSON object: entries (id, path, format, tags[, sha256]) and diagnostics." };
        var command = new Command("checkpoints", "List the registered checkpoints with their ids, formats and tags. " +
                                                 "A glob matching nothing is a warning; a path that does not exist is an error (exit code 2).")
        {
            config, dir, hash, json,
        };
        command.SetAction(parse =>
        {
            var configPath = parse.GetValue(config);
            var dirPath = parse.GetValue(dir);
            if (configPath is not null && dirPath is not null) throw new UserInputException("Give --config or --dir, not both.");
            var registry = configPath is not null
                ? CheckpointRegistry.FromFile(context.Harness.Resolve(configPath))
                : CheckpointRegistry.ScanDirectory(context.Harness.Resolve(dirPath ?? "."));
            var resolution = registry.Resolve(context.Harness.Digests(), context.Harness.Variables);
            bool withHash = parse.GetValue(hash);
            if (parse.GetValue(json))
            {
                var payload = new
                {
                    entries = resolution.Entries.Select(e => new
                    {
                        id = e.Id,
                        path = e.Path,
                        format = e.Format,
                        tags = e.Tags,
                        sha256 = withHash ? e.Sha256 : null,
                    }),
                    diagnostics = resolution.Diagnostics.Select(d => new
                    {
                        severity = d.Severity.ToString().ToLowerInvariant(),
                        source = d.Source,
                        field = d.Field,
                        message = d.Message,
                    }),
                };
                context.Out.WriteLine(JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }));
            }
            else
            {
                var table = new Table().AddColumns("id", "format", "path", "tags");
                if (withHash) table.AddColumn("sha256");
                foreach (var e in resolution.Entries)
                {
                    var cells = new List<string> { e.Id, e.Format, Path.GetRelativePath(context.WorkingDirectory, e.Path), string.Join(", ", e.Tags.Select(t => $"{t.Key}={t.Value}")) };
                    if (withHash) cells.Add(e.Sha256[..16] + "…");
                    table.AddRow(cells.Select(Markup.Escape).ToArray());
                }
                context.Console.Write(table);
                context.Out.WriteLine($"{resolution.Entries.Count} checkpoint(s)");
            }
            foreach (var d in resolution.Diagnostics) context.Error.WriteLine(d.ToString());
            return resolution.HasErrors ? ExitCodes.BadInput : ExitCodes.Success;
        });
        return command;
    }
}
