using SaeBench.Core.Checkpoints;
using CoreSafetensors = SaeBench.Core.Safetensors;

namespace SaeBench.Models.Files;

/// <summary>
/// Activation and weight files in safetensors, through the one safetensors reader and writer of SaeBench.Core (which
/// validates the header: length, JSON, dtypes, offsets in range and in order, byte counts). This adapter maps a header
/// entry to the <see cref="TensorLayout"/> that the memory-mapped activation reader shares with <c>.npy</c> files.
/// </summary>
internal static class SafetensorsActivationFile
{
    public static IReadOnlyDictionary<string, TensorLayout> ReadHeader(string path)
    {
        try
        {
            using var file = CoreSafetensors.SafetensorsFile.Open(path);
            var result = new Dictionary<string, TensorLayout>(StringComparer.Ordinal);
            foreach (var t in file.Tensors)
                result[t.Name] = new TensorLayout(path, t.Name, file.DataStart + t.Begin, TypeOf(path, t), t.Shape.ToArray());
            return result;
        }
        catch (CheckpointFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static ElementType TypeOf(string path, CoreSafetensors.SafetensorsTensorInfo t) => t.DType switch
    {
        CoreSafetensors.SafetensorsDType.F32 => ElementType.F32,
        CoreSafetensors.SafetensorsDType.F16 => ElementType.F16,
        CoreSafetensors.SafetensorsDType.BF16 => ElementType.BF16,
        CoreSafetensors.SafetensorsDType.I32 => ElementType.I32,
        CoreSafetensors.SafetensorsDType.I64 => ElementType.I64,
        CoreSafetensors.SafetensorsDType.U8 or CoreSafetensors.SafetensorsDType.BOOL => ElementType.U8,
        var d => throw new InvalidDataException(
            $"{path}: tensor '{t.Name}' field 'dtype' is '{d}'; supported: F32, F16, BF16 (and I32, I64, U8, BOOL for labels and masks)."),
    };
}
