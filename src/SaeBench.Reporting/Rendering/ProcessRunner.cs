using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.ComponentModel;
using System.Diagnostics;

namespace SaeBench.Reporting.Rendering;

/// <summary>The outcome of a child process.</summary>
public sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError, bool TimedOut);

/// <summary>Runs child programs (Node.js, npm, tool version probes) with a timeout, capturing both output streams.</summary>
public static class ProcessRunner
{
    /// <summary>Runs a program to completion (or kills it at the timeout). Null when it cannot be started (not installed).</summary>
    public static ProcessOutcome? Run(string file, IEnumerable<string> arguments, string? workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        Process? p;
        try { p = Process.Start(psi); }
        catch (Win32Exception) { return null; }
        if (p is null) return null;
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.WaitForExit();
                return new ProcessOutcome(-1, stdout.Result, stderr.Result, true);
            }
            p.WaitForExit();
            return new ProcessOutcome(p.ExitCode, stdout.Result, stderr.Result, false);
        }
    }
}
