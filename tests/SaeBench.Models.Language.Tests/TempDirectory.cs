namespace SaeBench.Models.Language.Tests;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "saebench-lm-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Copies a fixture model folder to <paramref name="relative"/> under this directory and returns the copy's path.</summary>
    public string CopyModel(string model, string relative = "model")
    {
        string destination = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(destination);
        foreach (var f in Directory.GetFiles(LmFixtures.PathOf($"models/{model}")))
            System.IO.File.Copy(f, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(f)));
        return destination;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
