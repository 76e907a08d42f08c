using SaeBench.Evals.Ravel;

namespace SaeBench.Evals.Tests.Ravel;

/// <summary>
/// SAEBench's <c>validation.evaluate_completion</c>, case by case from its rules (hand-written expectations, not outputs of
/// the port). Time zones are judged at fixed instants so summer time is known.
/// </summary>
public sealed class RavelMatchingTests
{
    private static readonly DateTimeOffset January = new(2024, 1, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset July = new(2024, 7, 15, 12, 0, 0, TimeSpan.Zero);

    private static bool Judge(string text, string label, string completion) => RavelMatching.EvaluateCompletion(text, label, completion, January);

    [Theory]
    [InlineData("Paris", " Paris, the capital", true)]        // label is a prefix of the completion
    [InlineData("Paris", " Par", true)]                      // completion is a prefix of the label
    [InlineData("Paris", " PARIS", true)]                    // lower-cased
    [InlineData("Paris", "Paris\" is the answer", true)]     // cut at the first quote
    [InlineData("Paris", "\"Paris\"", false)]                // the cut leaves nothing before the first quote
    [InlineData("Paris", " London", false)]
    [InlineData("Paris", "   ", false)]                      // empty after stripping
    [InlineData("", " anything", false)]                     // no label
    [InlineData("Physics", " physicist", false)]             // neither is a prefix of the other
    [InlineData("Europe", " europe\\/asia", true)]           // "\/" read as "/"
    public void The_general_rule_is_a_prefix_either_way(string label, string completion, bool expected) =>
        Assert.Equal(expected, Judge("%s is located in", label, completion));

    [Theory]
    [InlineData("48.85", " 47 degrees north", true)]   // |48.85 − 47| ≤ 2
    [InlineData("48.85", " 46 degrees", false)]         // 2.85 away
    [InlineData("-33.9", " 34°S", true)]                // the label's sign is stripped
    [InlineData("-33.9", " 35.9", true)]                // only the first integer counts: 35
    [InlineData("12.5", " north", false)]               // no number in the completion
    public void Coordinates_are_within_two_degrees(string label, string completion, bool expected)
    {
        Assert.Equal(expected, Judge("The latitude of %s is", label, completion));
        Assert.Equal(expected, Judge("The coordinates of %s are", label, completion));
    }

    [Theory]
    [InlineData("United States", " the United States of America", true)]
    [InlineData("United States", " United States", true)]
    [InlineData("United States", " England", true)]
    [InlineData("United States", " united states", false)]  // this rule is case-sensitive
    [InlineData("United States", " USA", false)]
    [InlineData("United Kingdom", " England and Wales", true)]
    [InlineData("United Kingdom", " United Kingdom\"", true)] // not cut at the quote: a prefix match all the same
    [InlineData("United Kingdom", " Scotland", false)]
    public void United_States_and_United_Kingdom(string label, string completion, bool expected) =>
        Assert.Equal(expected, Judge("%s is a city in the country of", label, completion));

    [Theory]
    [InlineData(" Korea", true)]
    [InlineData(" south korea", true)]
    [InlineData(" North Korea", false)]
    [InlineData(" South", false)] // a prefix of the label, but the special case replaces the general rule
    public void South_Korea_accepts_korea(string completion, bool expected) =>
        Assert.Equal(expected, Judge("%s is in", "South Korea", completion));

    [Theory]
    [InlineData(" NA", true)]
    [InlineData(" America", true)]
    [InlineData(" the north america region", true)] // contains the label
    [InlineData(" North", false)]                    // a prefix, but the special case replaces the general rule
    [InlineData(" South America", false)]
    public void North_America(string completion, bool expected) =>
        Assert.Equal(expected, Judge("%s is on the continent of", "North America", completion));

    [Theory]
    [InlineData(" Chinese", true)]
    [InlineData(" man", true)]        // a substring of the label
    [InlineData(" darin", true)]      // any substring, not only a prefix
    [InlineData(" Cantonese", false)]
    [InlineData(" Mandarin Chinese", false)] // longer than the label: not a substring of it
    public void Mandarin_accepts_chinese(string completion, bool expected) =>
        Assert.Equal(expected, Judge("In %s people speak", "Mandarin", completion));

    [Theory]
    [InlineData(" English", true)]
    [InlineData(" mostly french", true)]  // contains " french" (with the space the split leaves)
    [InlineData(" French", false)]        // "french" does not contain " french", nor "english"
    [InlineData(" German", false)]
    public void Language_lists_accept_any_one_as_a_substring(string completion, bool expected) =>
        Assert.Equal(expected, Judge("The official language of %s is", "English, French", completion));

    [Fact]
    public void A_list_label_is_matched_as_a_whole_when_the_prompt_is_not_about_language() =>
        Assert.False(Judge("People in %s speak", "English, French", " mostly french"));

    [Theory]
    [InlineData("Asia/Tokyo", "+9:00")]
    [InlineData("Asia/Kolkata", "+5:30")]
    [InlineData("America/New_York", "-5:00")]
    [InlineData("America/St_Johns", "-3:30")]
    [InlineData("Europe/London", "+0:00")]
    public void Utc_offsets_are_formatted_as_SAEBench_does(string zone, string expected) =>
        Assert.Equal(expected, RavelMatching.UtcOffset(zone, January));

    [Fact]
    public void Utc_offsets_follow_summer_time_and_unknown_zones_have_none()
    {
        Assert.Equal("-4:00", RavelMatching.UtcOffset("America/New_York", July));
        Assert.Equal("+1:00", RavelMatching.UtcOffset("Europe/London", July));
        Assert.Null(RavelMatching.UtcOffset("Mars/Olympus_Mons", January));
    }

    [Theory]
    [InlineData("Asia/Tokyo", "+9", true)]
    [InlineData("Asia/Tokyo", "+09:00", true)]          // a zero after the sign is dropped
    [InlineData("Asia/Tokyo", "+8", false)]             // Asia: no summer tolerance
    [InlineData("Asia/Tokyo", "-15", true)]             // 24 − 15 = 9 appears in "+9:00"
    [InlineData("America/New_York", "-5", true)]
    [InlineData("America/New_York", "-4:00", true)]     // summer time: within an hour of −5
    [InlineData("America/New_York", "-3:00", false)]
    [InlineData("Europe/London", "+1:00", true)]        // summer time in Europe: within an hour of +0
    [InlineData("Mars/Olympus_Mons", "+0", false)]      // unknown zone
    public void Time_zones_are_judged_by_their_offset(string zone, string completion, bool expected) =>
        Assert.Equal(expected, Judge("The time zone of %s is UTC", zone, completion));

    [Fact]
    public void A_zone_label_outside_a_UTC_prompt_is_matched_as_text() =>
        Assert.True(Judge("The time zone of %s is", "Asia/Tokyo", " Asia/Tokyo"));
}
