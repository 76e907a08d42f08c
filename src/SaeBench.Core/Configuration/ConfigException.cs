namespace SaeBench.Core.Configuration;

/// <summary>Invalid configuration: the message names the file and the field (and where possible the valid choices).</summary>
public sealed class ConfigException(string message, Exception? inner = null) : BadInputException(message, inner);

/// <summary>"Did you mean …" suggestions for unknown names.</summary>
public static class Suggest
{
    public static string UnknownName(string kind, string given, IEnumerable<string> valid)
    {
        var list = valid.ToList();
        var best = list.OrderBy(v => Distance(given.ToLowerInvariant(), v.ToLowerInvariant())).FirstOrDefault();
        var hint = best is not null && Distance(given.ToLowerInvariant(), best.ToLowerInvariant()) <= Math.Max(2, given.Length / 3)
            ? $" Did you mean '{best}'?" : "";
        return $"Unknown {kind} '{given}'.{hint} Valid: {string.Join(", ", list)}.";
    }

    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        for (int j = 1; j <= b.Length; j++)
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
