using SkiaSharp;

namespace SaeBench.Reporting.Rendering;

/// <summary>
/// The typefaces the static figures are drawn with: DejaVu Sans (Debian's <c>fonts-dejavu-core</c>, installed by
/// scripts/setup.sh) found through the system's font manager or at its Debian path, else the system default with a
/// warning. Every text of a figure — ScottPlot's tick labels included — uses the family name this resolves to.
/// </summary>
public sealed class FigureFonts : IDisposable
{
    /// <summary>Where Debian installs DejaVu Sans (regular, bold), tried when the font manager does not know it.</summary>
    public static readonly IReadOnlyList<string> DejaVuFiles =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ];

    private FigureFonts(SKTypeface regular, SKTypeface bold, string? warning)
    {
        Regular = regular;
        Bold = bold;
        Warning = warning;
    }

    public SKTypeface Regular { get; }
    public SKTypeface Bold { get; }

    /// <summary>The family name to give ScottPlot.</summary>
    public string Family => Regular.FamilyName;

    /// <summary>Why the figures are not drawn with DejaVu Sans, or null when they are.</summary>
    public string? Warning { get; }

    /// <summary>Resolves the typefaces (cheap; call once per report).</summary>
    public static FigureFonts Load()
    {
        var regular = SKFontManager.Default.MatchFamily(Figures.FigureStyle.Font, SKFontStyle.Normal);
        var bold = SKFontManager.Default.MatchFamily(Figures.FigureStyle.Font, SKFontStyle.Bold);
        if (regular is null && File.Exists(DejaVuFiles[0])) regular = SKTypeface.FromFile(DejaVuFiles[0]);
        if (bold is null && File.Exists(DejaVuFiles[1])) bold = SKTypeface.FromFile(DejaVuFiles[1]);
        string? warning = null;
        if (regular is null)
        {
            regular = SKTypeface.Default;
            warning = $"the font {Figures.FigureStyle.Font} was not found; figures use {regular.FamilyName} (install fonts-dejavu-core, e.g. with scripts/setup.sh)";
        }
        bold ??= regular;
        return new FigureFonts(regular, bold, warning);
    }

    /// <summary>One line for <c>saebench doctor</c>.</summary>
    public static string Describe()
    {
        using var fonts = Load();
        return "drawn in process (ScottPlot, SkiaSharp); font " + (fonts.Warning ?? fonts.Family);
    }

    public void Dispose()
    {
        if (!ReferenceEquals(Bold, Regular) && !ReferenceEquals(Bold, SKTypeface.Default)) Bold.Dispose();
        if (!ReferenceEquals(Regular, SKTypeface.Default)) Regular.Dispose();
    }
}
