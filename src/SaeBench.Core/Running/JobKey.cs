namespace SaeBench.Core.Running;

/// <summary>
/// The job key: what makes a finished result reusable. A result file whose key equals the planned job's key is kept;
/// anything that can change the numbers changes the key: the checkpoint's bytes, the evaluator and its version, its
/// options, the model's content hash, the run's seed and the harness's code.
/// </summary>
public static class JobKey
{
    public static string Compute(string checkpointSha256, string evalTypeId, string evaluatorVersion, string optionsHash, string modelHash, int seed,
        string codeVersion) =>
        Results.Hashing.Sha256(string.Join('\n', "saebench-job-v2", checkpointSha256, evalTypeId, evaluatorVersion, optionsHash, modelHash,
            seed.ToString(System.Globalization.CultureInfo.InvariantCulture), codeVersion));
}
