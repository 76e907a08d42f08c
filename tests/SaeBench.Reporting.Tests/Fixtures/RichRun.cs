namespace SaeBench.Reporting.Tests.Fixtures;

/// <summary>A run with every headline evaluator, three SAE architectures at three widths and three
/// sparsities, PCA and identity baselines, and one checkpoint whose id is an HTML script tag. The
/// values follow simple smooth trends (more latents and higher L0 reconstruct better) so the pictures
/// look like real frontiers; the tests that use it check rendering and the browser, not numbers.</summary>
public static class RichRun
{
    public const string EvilId = "<script>alert(1)<_script>";

    public static void Write(string root)
    {
        string[] archs = ["relu", "topk", "jumprelu"];
        int[] widths = [256, 1024, 4096];
        int[] l0s = [8, 24, 64];
        for (int a = 0; a < archs.Length; a++)
            foreach (var w in widths)
                foreach (var l0 in l0s)
                {
                    var c = new Ckpt($"{archs[a]}-{w}-l{l0}", archs[a], w, l0);
                    double wf = Math.Log2(w / 128.0) / 5;            // 0.2 … 1
                    double lf = Math.Log2(l0) / 6;                   // 0.5 … 1
                    double ev = 0.55 + 0.25 * lf + 0.1 * wf + 0.02 * a;
                    WriteAll(root, c, l0 * (1 + 0.05 * a), ev, a, wf, lf);
                }
        WriteAll(root, new Ckpt("pca-128", "pca", 128), 128, 0.72, 0, 0.2, 1, baseline: true);
        WriteAll(root, new Ckpt("identity-128", "identity", 128), 128, 1.0, 0, 0.2, 1, baseline: true);
        WriteAll(root, new Ckpt(EvilId, "topk", 1024, 16), 16, 0.8, 1, 0.6, 0.67);
    }

    private static void WriteAll(string root, Ckpt c, double l0, double ev, int a, double wf, double lf, bool baseline = false)
    {
        ResultFiles.Write(root, "core", c, [ResultFiles.L0(l0), ResultFiles.ExplainedVariance(ev), ResultFiles.Mse(0.2 * (1 - ev)), ResultFiles.LossRecovered(Math.Min(1, ev + 0.05))]);
        ResultFiles.Write(root, "sparse_probing", c, [ResultFiles.Top1(0.6 + 0.1 * wf + 0.03 * a - 0.05 * lf)]);
        ResultFiles.Write(root, "scr", c, [ResultFiles.Scr(2, 0.1 + 0.1 * wf), ResultFiles.Scr(20, 0.2 + 0.2 * wf - 0.05 * lf + 0.02 * a)]);
        ResultFiles.Write(root, "tpp", c, [ResultFiles.Tpp(2, 0.01 + 0.02 * wf), ResultFiles.Tpp(20, 0.05 + 0.1 * wf + 0.02 * lf)]);
        if (baseline) return;
        ResultFiles.Write(root, "meta_structure_decoder_variance", c, [ResultFiles.MetaFve(0.3 + 0.2 * wf + 0.05 * a)]);
        ResultFiles.Write(root, "absorption_first_letter", c, [ResultFiles.Absorption(0.9 - 0.2 * wf + 0.05 * lf - 0.03 * a)]);
        ResultFiles.Write(root, "unlearning", c, [ResultFiles.Unlearning(0.1 + 0.2 * wf - 0.1 * lf + 0.02 * a)]);
        ResultFiles.Write(root, "autointerp", c, [ResultFiles.Autointerp(0.85 - 0.1 * lf + 0.03 * a)]);
        ResultFiles.Write(root, "mdl", c, [ResultFiles.DescriptionLength(l0 * (8 + 4 * wf)), ResultFiles.Fvu(1 - ev)]);
    }
}
