using System.Globalization;
using System.Text.RegularExpressions;

namespace SaeBench.Evals.Ravel;

/// <summary>
/// SAEBench's <c>validation.evaluate_completion</c>: whether a generated completion states an expected attribute value.
/// Pure functions; every rule and its quirks are SAEBench's (ported rule by rule, not improved).
/// </summary>
public static partial class RavelMatching
{
    /// <summary>
    /// The general rule: lower-case both, cut the completion at its first <c>"</c>, strip spaces and quotes, and accept when
    /// the shorter is a prefix of the longer. Special cases by the prompt's <paramref name="text"/> and the label:
    /// coordinates (the first integer within 2 of the label), United States/United Kingdom (case-sensitive prefix after
    /// dropping "the ", or "England"), South Korea ("korea…"), North America (contains it, "na", or "america…"),
    /// Mandarin (a substring of "mandarin", or "chinese"), comma-separated language lists (any one, as a substring) and
    /// IANA time zones for UTC prompts (<see cref="UtcCompletionMatches"/>, offsets at <paramref name="at"/>).
    /// </summary>
    public static bool EvaluateCompletion(string text, string expectedLabel, string completion, DateTimeOffset at)
    {
        if (string.IsNullOrEmpty(expectedLabel)) return false;
        string normLabel = expectedLabel.ToLowerInvariant();
        string normOut = completion.Split('"')[0].Trim(' ', '"').Replace("\\/", "/").ToLowerInvariant();
        if (normOut.Length == 0) return false;

        bool correct = normLabel.Length < normOut.Length
            ? normOut.StartsWith(normLabel, StringComparison.Ordinal)
            : normLabel.StartsWith(normOut, StringComparison.Ordinal);

        if (text.Contains("coord", StringComparison.Ordinal) || text.Contains("latitude", StringComparison.Ordinal) || text.Contains("longitude", StringComparison.Ordinal))
        {
            var digits = Digits().Match(normOut);
            correct = digits.Success
                && double.TryParse(normLabel.Trim('-', '−').Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double label)
                && double.TryParse(digits.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out double value)
                && Math.Abs(label - value) <= 2;
        }
        else if (expectedLabel.Contains("United States", StringComparison.Ordinal) || expectedLabel.Contains("United Kingdom", StringComparison.Ordinal))
        {
            string label = expectedLabel.Trim().Replace("the ", "", StringComparison.Ordinal);
            string output = completion.Trim().Replace("the ", "", StringComparison.Ordinal);
            correct = output.StartsWith(label, StringComparison.Ordinal) || output.StartsWith("England", StringComparison.Ordinal);
        }
        else if (expectedLabel.Contains("South Korea", StringComparison.Ordinal))
            correct = normOut.StartsWith("korea", StringComparison.Ordinal) || normOut.StartsWith("south korea", StringComparison.Ordinal);
        else if (expectedLabel.Contains("North America", StringComparison.Ordinal))
            correct = normOut.Contains(normLabel, StringComparison.Ordinal) || normOut == "na" || normOut.StartsWith("america", StringComparison.Ordinal);
        else if (expectedLabel.Contains("Mandarin", StringComparison.Ordinal))
            correct = normLabel.Contains(normOut, StringComparison.Ordinal) || normOut == "chinese";
        else if (text.Contains("language", StringComparison.Ordinal) && normLabel.Contains(','))
            correct = normLabel.Split(',').Any(language => normOut.Contains(language, StringComparison.Ordinal));
        else if (text.Contains("UTC", StringComparison.Ordinal) && normLabel.Contains('/'))
            correct = UtcCompletionMatches(expectedLabel, normOut, at);
        return correct;
    }

    /// <summary>
    /// SAEBench's <c>_timezone_name_to_utc_offset</c>: the zone's offset at <paramref name="at"/> as <c>+H:MM</c> / <c>-H:MM</c>
    /// (hours unpadded; an offset under one hour keeps SAEBench's quirk of dropping the leading 0, e.g. <c>+:30</c>), or
    /// null when the zone is unknown. The zone is an IANA id (<see cref="TimeZoneInfo.FindSystemTimeZoneById"/>).
    /// </summary>
    public static string? UtcOffset(string zone, DateTimeOffset at)
    {
        TimeZoneInfo tz;
        try { tz = TimeZoneInfo.FindSystemTimeZoneById(zone); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException) { return null; }
        // Python's timedelta.seconds: the offset modulo one day, then split at noon into a sign and a magnitude.
        int seconds = (int)(((long)tz.GetUtcOffset(at).TotalSeconds % 86400 + 86400) % 86400);
        char sign = seconds < 12 * 3600 ? '+' : '-';
        if (seconds >= 12 * 3600) seconds = 24 * 3600 - seconds;
        string formatted = $"{seconds / 3600}:{seconds % 3600 / 60:00}";
        if (formatted.StartsWith('0') && seconds >= 1800) formatted = formatted[1..];
        return sign + formatted;
    }

    /// <summary>SAEBench's <c>_evaluate_utc_completion</c> (summer-time tolerance and the 24 − h wrap included).</summary>
    public static bool UtcCompletionMatches(string label, string normOut, DateTimeOffset at)
    {
        string? normLabel = UtcOffset(label, at);
        if (normLabel is null) return false;
        string hours = normLabel.Split(':')[0];
        bool correct = normOut.StartsWith(hours, StringComparison.Ordinal);
        if (!correct && SignedZeroDigit().IsMatch(normOut))
        {
            int zero = normOut.IndexOf('0');
            correct = normOut.Remove(zero, 1).StartsWith(hours, StringComparison.Ordinal);
        }
        bool summer = (MinusFiveToEight().IsMatch(normLabel) && label.StartsWith("America", StringComparison.Ordinal))
            || (PlusZeroToThree().IsMatch(normLabel) && (label.StartsWith("Europe", StringComparison.Ordinal) || label.StartsWith("Africa", StringComparison.Ordinal)));
        if (!correct && summer)
        {
            var outOffset = HoursMinutes().Match(normOut);
            var labelOffset = HoursMinutes().Match(normLabel);
            if (outOffset.Success && labelOffset.Success)
            {
                int o = int.Parse(outOffset.Groups[1].Value, CultureInfo.InvariantCulture);
                int l = int.Parse(labelOffset.Groups[1].Value, CultureInfo.InvariantCulture);
                correct = o <= l + 1 && o >= l - 1;
            }
        }
        var signed = SignedNumber().Match(normOut);
        if (!correct && signed.Success && BigInteger(signed.Groups[1].Value) > 11)
            correct = normLabel.Contains((24 - BigInteger(signed.Groups[1].Value)).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        return correct;
    }

    private static System.Numerics.BigInteger BigInteger(string digits) => System.Numerics.BigInteger.Parse(digits, CultureInfo.InvariantCulture);

    // Python's \d matches any Unicode digit; these patterns keep to ASCII digits (RegexOptions.ECMAScript), which is what
    // a completion of a time zone or a coordinate holds in practice.
    [GeneratedRegex(@"\d+", RegexOptions.ECMAScript)] private static partial Regex Digits();
    [GeneratedRegex(@"[+\-]0\d", RegexOptions.ECMAScript)] private static partial Regex SignedZeroDigit();
    [GeneratedRegex(@"\-[5-8]", RegexOptions.ECMAScript)] private static partial Regex MinusFiveToEight();
    [GeneratedRegex(@"\+[0-3]", RegexOptions.ECMAScript)] private static partial Regex PlusZeroToThree();
    [GeneratedRegex(@"[+\-]?(\d\d?):\d+", RegexOptions.ECMAScript)] private static partial Regex HoursMinutes();
    [GeneratedRegex(@"[+\-](\d+)", RegexOptions.ECMAScript)] private static partial Regex SignedNumber();
}
