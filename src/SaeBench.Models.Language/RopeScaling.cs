namespace SaeBench.Models.Language;

/// <summary>
/// Rotary frequency scaling (<c>rope_scaling</c> / <c>rope_parameters.rope_type</c>). Implemented: <c>default</c>
/// (none), <c>linear</c> (frequencies ÷ factor) and <c>llama3</c> (Llama 3.1's wavelength-banded scaling); other
/// types are refused when the config is read.
/// </summary>
public sealed record RopeScaling(string Type, double Factor = 1, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositions = 8192)
{
    public static RopeScaling None { get; } = new("default");

    /// <summary>Scales the default inverse frequencies.</summary>
    public double[] Apply(double[] inverseFrequencies)
    {
        switch (Type)
        {
            case "default":
                return inverseFrequencies;
            case "linear":
                return inverseFrequencies.Select(f => f / Factor).ToArray();
            case "llama3":
            {
                double lowWavelength = OriginalMaxPositions / LowFreqFactor;
                double highWavelength = OriginalMaxPositions / HighFreqFactor;
                var result = new double[inverseFrequencies.Length];
                for (int i = 0; i < result.Length; i++)
                {
                    double f = inverseFrequencies[i];
                    double wavelength = 2 * Math.PI / f;
                    if (wavelength < highWavelength) result[i] = f;
                    else if (wavelength > lowWavelength) result[i] = f / Factor;
                    else
                    {
                        double smooth = (OriginalMaxPositions / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
                        result[i] = (1 - smooth) * f / Factor + smooth * f;
                    }
                }
                return result;
            }
            default:
                throw new InvalidOperationException($"Unsupported rope type '{Type}'.");
        }
    }
}
