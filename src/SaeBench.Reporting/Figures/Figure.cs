using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Text.Json.Nodes;

namespace SaeBench.Reporting.Figures;

/// <summary>A Vega-Lite spec with the file name it is written under (<c>figures/NAME.vl.json</c>, .svg, .png).</summary>
public sealed record Figure(string Name, string Title, JsonObject Spec)
{
    public string ToJson() => Spec.ToJsonString(ResultJson.Indented);
}

/// <summary>What the figure builders may be told.</summary>
/// <param name="MdlFvuTarget">The MDL-optimal checkpoint is chosen among those with <c>mdl.fvu</c> ≤ this.</param>
public sealed record FigureOptions(double MdlFvuTarget = MdlSelection.DefaultFvuTarget, int PanelWidth = 240, int PanelHeight = 180);
