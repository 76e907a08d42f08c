using SaeBench.Core.Models;
using SaeBench.Models.Common;

namespace SaeBench.Models.FashionMnist;

/// <summary>File names of the four Fashion-MNIST IDX files.</summary>
public static class FashionMnistFiles
{
    public const string TrainImages = "train-images-idx3-ubyte.gz";
    public const string TrainLabels = "train-labels-idx1-ubyte.gz";
    public const string TestImages = "t10k-images-idx3-ubyte.gz";
    public const string TestLabels = "t10k-labels-idx1-ubyte.gz";

    public static IReadOnlyList<string> All { get; } = [TrainImages, TrainLabels, TestImages, TestLabels];
}

/// <summary>Class names and the concept hierarchy of Fashion-MNIST.</summary>
public static class FashionMnistClasses
{
    public static IReadOnlyList<string> Names { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Concept id of the group "tops" = {T-shirt/top, Pullover, Coat, Shirt}.</summary>
    public const int Tops = 10;

    /// <summary>Concept id of the group "footwear" = {Sandal, Sneaker, Ankle boot}.</summary>
    public const int Footwear = 11;

    /// <summary>Concepts 0–9 are the classes; 10 = tops and 11 = footwear are their parents; Trouser, Dress and Bag
    /// are top-level singletons.</summary>
    public static ConceptHierarchy Hierarchy { get; } = new(
    [
        new Concept(0, "T-shirt/top", Tops),
        new Concept(1, "Trouser", null),
        new Concept(2, "Pullover", Tops),
        new Concept(3, "Dress", null),
        new Concept(4, "Coat", Tops),
        new Concept(5, "Sandal", Footwear),
        new Concept(6, "Shirt", Tops),
        new Concept(7, "Sneaker", Footwear),
        new Concept(8, "Bag", null),
        new Concept(9, "Ankle boot", Footwear),
        new Concept(Tops, "tops", null),
        new Concept(Footwear, "footwear", null),
    ]);

    /// <summary>The default forget class for unlearning: Bag, a singleton, so forgetting it touches no group.</summary>
    public const string DefaultForgetClass = "Bag";

    /// <summary>Resolves a class given by name (case-insensitive) or index.</summary>
    public static int Parse(string value, string field)
    {
        if (int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int i)
            && i >= 0 && i < Names.Count)
            return i;
        for (int c = 0; c < Names.Count; c++)
            if (string.Equals(Names[c], value, StringComparison.OrdinalIgnoreCase)) return c;
        throw new ArgumentException(
            $"{field}: unknown Fashion-MNIST class '{value}'. Valid: {string.Join(", ", Names.Select((n, k) => $"{k} {n}"))}.");
    }
}

/// <summary>The Fashion-MNIST images (bytes, 784 per image) and labels of both splits, validated.</summary>
public sealed class FashionMnistData
{
    public const int Side = 28;
    public const int Pixels = Side * Side;

    public byte[] TrainImages { get; }
    public byte[] TrainLabels { get; }
    public byte[] TestImages { get; }
    public byte[] TestLabels { get; }

    /// <summary>SHA-256 over the four files' bytes.</summary>
    public string Hash { get; }

    private FashionMnistData(byte[] trainImages, byte[] trainLabels, byte[] testImages, byte[] testLabels, string hash)
    {
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
        Hash = hash;
    }

    public int Count(Split split) => (split == Split.Train ? TrainLabels : TestLabels).Length;

    public byte[] Images(Split split) => split == Split.Train ? TrainImages : TestImages;

    public byte[] Labels(Split split) => split == Split.Train ? TrainLabels : TestLabels;

    public static FashionMnistData Load(string directory)
    {
        string P(string f) => Path.Combine(directory, f);
        // Each file is read once, for both its content hash (in FashionMnistFiles.All order) and its data.
        using var h = new ContentHasher();
        var (trI, trL) = LoadSplit(P(FashionMnistFiles.TrainImages), P(FashionMnistFiles.TrainLabels), h);
        var (teI, teL) = LoadSplit(P(FashionMnistFiles.TestImages), P(FashionMnistFiles.TestLabels), h);
        return new FashionMnistData(trI, trL, teI, teL, h.Finish());
    }

    /// <summary>Reads one images/labels pair and checks that they agree.</summary>
    public static (byte[] Images, byte[] Labels) LoadSplit(string imagesPath, string labelsPath, ContentHasher? hash = null)
    {
        var images = IdxReader.Read(imagesPath, IdxReader.ImagesMagic, hash);
        var labels = IdxReader.Read(labelsPath, IdxReader.LabelsMagic, hash);
        if (images.Dimensions[1] != Side || images.Dimensions[2] != Side)
            throw new InvalidDataException(
                $"{imagesPath}: images are {images.Dimensions[1]}×{images.Dimensions[2]}, expected {Side}×{Side}.");
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new InvalidDataException(
                $"{labelsPath}: {labels.Dimensions[0]} labels for the {images.Dimensions[0]} images of {imagesPath}.");
        for (int i = 0; i < labels.Data.Length; i++)
            if (labels.Data[i] >= FashionMnistClasses.Names.Count)
                throw new InvalidDataException($"{labelsPath}: label {labels.Data[i]} at index {i} is not a class 0–9.");
        return (images.Data, labels.Data);
    }
}

/// <summary>
/// The harness's second attribute of Fashion-MNIST images, for SCR/TPP: <c>brightness</c> = <c>bright</c> when the image's
/// mean pixel intensity is above the median of its class on the train split, else <c>dark</c>. A property of the images
/// themselves (no input is changed, so the model's activations and content hash stay as they were), deterministic, and
/// balanced within every class by construction (each class has bright and dark examples in both splits), so SCR's
/// quadrants class × brightness are all populated.
/// </summary>
public static class FashionMnistBrightness
{
    public const string Name = "brightness";
    public static IReadOnlyList<string> Values { get; } = ["bright", "dark"];

    /// <summary>The attribute of every example of both splits (0 = bright, 1 = dark).</summary>
    public static (int[] Train, int[] Test) Compute(FashionMnistData data)
    {
        var trainMeans = Means(data, Split.Train);
        var testMeans = Means(data, Split.Test);
        var medians = new double[FashionMnistClasses.Names.Count];
        for (int c = 0; c < medians.Length; c++)
        {
            var values = Enumerable.Range(0, trainMeans.Length).Where(e => data.TrainLabels[e] == c).Select(e => trainMeans[e]).Order().ToArray();
            medians[c] = values.Length == 0 ? 0 : values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2.0;
        }
        int[] Classify(double[] means, byte[] labels) => means.Select((m, e) => m > medians[labels[e]] ? 0 : 1).ToArray();
        return (Classify(trainMeans, data.TrainLabels), Classify(testMeans, data.TestLabels));
    }

    /// <summary>Mean pixel intensity (0–255) of every image of a split.</summary>
    private static double[] Means(FashionMnistData data, Split split)
    {
        var images = data.Images(split);
        var means = new double[data.Count(split)];
        for (int e = 0; e < means.Length; e++)
        {
            long sum = 0;
            foreach (byte b in images.AsSpan(e * FashionMnistData.Pixels, FashionMnistData.Pixels)) sum += b;
            means[e] = sum / (double)FashionMnistData.Pixels;
        }
        return means;
    }
}
