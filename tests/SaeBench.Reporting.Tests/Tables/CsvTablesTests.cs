using SaeBench.TestKit;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tables;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Tables;

public class CsvTablesTests
{
    private static string[] Lines(Action<TextWriter> write)
    {
        var sw = new StringWriter();
        write(sw);
        return sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void Tidy_has_the_contract_columns_and_one_row_per_metric()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", new Ckpt("topk-1024-l32", "topk", 1024, 32), [L0(32), ExplainedVariance(0.93), Mse(0.0125)]);
        Write(tmp.Path, "core", new Ckpt("relu,odd", "relu", 256), [L0(7.5), ExplainedVariance(null), Mse(0.5)]);
        var lines = Lines(w => CsvTables.WriteTidy(ResultReader.Load(tmp.Path), w));

        Assert.Equal("checkpoint_id,eval_type_id,category,metric,value,unit,higher_is_better,architecture,width,target_l0", lines[0]);
        Assert.Equal(1 + 6, lines.Length);
        Assert.Contains("topk-1024-l32,core,reconstruction_quality,explained_variance,0.93,fraction,true,topk,1024,32", lines);
        Assert.Contains("topk-1024-l32,core,reconstruction_quality,mse,0.0125,squared activation,false,topk,1024,32", lines);
        Assert.Contains("topk-1024-l32,core,sparsity,l0,32,latents,,topk,1024,32", lines);
        // null value → empty field; a comma in an id is quoted (RFC 4180); no target_l0 tag → empty
        Assert.Contains("\"relu,odd\",core,reconstruction_quality,explained_variance,,fraction,true,relu,256,", lines);
        Assert.Contains("\"relu,odd\",core,sparsity,l0,7.5,latents,,relu,256,", lines);
    }

    [Fact]
    public void Wide_has_one_row_per_checkpoint_and_one_column_per_eval_metric()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        var lines = Lines(w => CsvTables.WriteWide(ResultReader.Load(tmp.Path), w));
        var header = lines[0].Split(',');
        Assert.Equal(["checkpoint_id", "architecture", "width", "target_l0"], header[..4]);
        Assert.Equal(
            ["core/sparsity.l0", "core/reconstruction_quality.explained_variance", "core/model_performance_preservation.ce_loss_score",
             "mdl/mdl.description_length_bits", "mdl/mdl.fvu", "sparse_probing/sae.sae_top_1_test_accuracy"],
            header[4..]);
        Assert.Equal(1 + SmallRun.Saes.Length + 1, lines.Length);
        Assert.Contains("topk-256-l8,topk,256,8,8,0.8,0.86,120,0.2,0.71", lines);
        // the PCA baseline has no MDL result: empty cells
        Assert.Contains("pca-128,pca,128,,128,0.7,0.75,,,0.65", lines);
    }

    [Fact]
    public void Summary_lists_counts_failures_problems_and_the_mdl_optimal_checkpoint()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        Write(tmp.Path, "unlearning", SmallRun.Saes[0], [], status: "failed", error: "bad | pipe");
        File.WriteAllText(Path.Combine(tmp.Path, "eval_results", "core", "x_eval_results.json"), "[");
        var md = SummaryMarkdown.Build(ResultReader.Load(tmp.Path), new FigureOptions());
        Assert.Contains("- Checkpoints: 9", md);
        Assert.Contains("MDL-optimal checkpoint (smallest description length with FVU ≤ 0.1): `topk-1024-l32`", md);
        Assert.Contains("| unlearning | relu-256-l16 | failed | bad \\| pipe |", md);
        Assert.Contains("x_eval_results.json", md);
        Assert.Contains("| topk-1024-l32 (MDL-optimal) | topk | 1024 |", md);
    }
}
