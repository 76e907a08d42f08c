using SaeBench.TestKit;
using System.Text.Json;
using SaeBench.Cli.Commands;

namespace SaeBench.Cli.Tests.Commands;

[Trait(Category.Name, Category.Slow)]
public sealed class ModelsCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "saebench-cli-models-" + Guid.NewGuid().ToString("N")[..10]);

    public ModelsCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var context = CliContext.ForWriters(output, error, TestCache.Environment(), _dir);
        int code = await SaeBenchApp.RunAsync(args, context);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Models_list_names_every_spec_with_its_hooks()
    {
        var (code, output, _) = await Run("models", "list");
        Assert.Equal(0, code);
        Assert.Contains("fashion-mnist-mlp", output);
        Assert.Contains("synthetic", output);
        Assert.Contains("file:PATH", output);
        Assert.Contains("mlp.hidden2", output);
    }

    [Fact]
    public async Task The_list_models_subcommand_prints_the_same_listing()
    {
        var list = new System.CommandLine.RootCommand();
        var output = new StringWriter();
        var context = CliContext.ForWriters(output, new StringWriter(), TestCache.Environment());
        var group = new System.CommandLine.Command("list") { ModelsCommand.CreateListModels(context) };
        list.Subcommands.Add(group);
        Assert.Equal(0, await list.Parse(["list", "models"]).InvokeAsync());
        var (_, direct, _) = await Run("models", "list");
        Assert.Equal(direct, output.ToString());
    }

    [Fact]
    public async Task Models_info_json_has_id_hook_d_model_and_test_accuracy()
    {
        var (code, output, _) = await Run("models", "info", "synthetic", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("synthetic", root.GetProperty("id").GetString());
        Assert.Equal("synthetic.x", root.GetProperty("hook").GetString());
        Assert.Equal(128, root.GetProperty("d_model").GetInt32());
        Assert.InRange(root.GetProperty("test_accuracy").GetDouble(), 0, 1);
        Assert.Equal(2048, root.GetProperty("ground_truth_features").GetInt32());
        Assert.True(root.GetProperty("forward_from_hook").GetBoolean());
    }

    [Fact]
    public async Task Models_info_of_an_activation_file_has_no_accuracy_and_no_forward_pass()
    {
        // A hand-built 4×3 float32 .npy file.
        string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }";
        dict = dict.PadRight(64 - 10 - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)dict.Length, 0 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(dict));
        bytes.AddRange(new byte[4 * 3 * 4]);
        File.WriteAllBytes(Path.Combine(_dir, "acts.npy"), bytes.ToArray());

        var (code, output, _) = await Run("models", "info", "file:acts.npy", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(3, doc.RootElement.GetProperty("d_model").GetInt32());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("test_accuracy").ValueKind);
        Assert.False(doc.RootElement.GetProperty("forward_from_hook").GetBoolean());
    }

    [Fact]
    public async Task Unknown_models_and_missing_files_exit_2_with_one_line()
    {
        var (code, _, error) = await Run("models", "info", "fashion");
        Assert.Equal(2, code);
        Assert.Contains("did you mean 'fashion-mnist-mlp'", error);

        (code, _, error) = await Run("models", "info", "file:missing.npy");
        Assert.Equal(2, code);
        Assert.Contains("missing.npy", error);
        Assert.DoesNotContain("   at ", error);
    }
}
