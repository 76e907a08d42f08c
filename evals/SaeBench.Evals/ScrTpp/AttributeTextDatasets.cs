using System.Globalization;
using SaeBench.Core;
using SaeBench.Core.Models;
using SaeBench.Evals.SparseProbing;

namespace SaeBench.Evals.ScrTpp;

/// <summary>
/// SAEBench's two-attribute datasets for SCR (<c>scr_and_tpp/eval_config.py</c>, <c>main.COLUMN2_VALS_LOOKUP</c> and
/// <c>dataset_info.py</c>): fields, the names of column 1's values as the files code them, column 2's pair, and the
/// column-1 pairs SCR runs.
/// </summary>
public sealed record AttributeTextDataset(
    string Name, string TextField, string Column1Field, string Column2Field,
    IReadOnlyDictionary<string, string> Column1Codes, IReadOnlyList<string> Column2Values, IReadOnlyList<(string Positive, string Negative)> Pairs);

public static class AttributeTextDatasets
{
    /// <summary>Bias in Bios professions → the dataset's integer codes (<c>dataset_info.profession_dict</c>).</summary>
    public static IReadOnlyDictionary<string, string> Professions { get; } = Codes(
        "accountant", "architect", "attorney", "chiropractor", "comedian", "composer", "dentist", "dietitian", "dj", "filmmaker",
        "interior_designer", "journalist", "model", "nurse", "painter", "paralegal", "pastor", "personal_trainer", "photographer",
        "physician", "poet", "professor", "psychologist", "rapper", "software_engineer", "surgeon", "teacher", "yoga_teacher");

    /// <summary>Amazon review categories → the dataset's integer codes (<c>dataset_info.amazon_category_dict</c>).</summary>
    public static IReadOnlyDictionary<string, string> AmazonCategories { get; } = Codes(
        "All_Beauty", "Toys_and_Games", "Cell_Phones_and_Accessories", "Industrial_and_Scientific", "Gift_Cards", "Musical_Instruments",
        "Electronics", "Handmade_Products", "Arts_Crafts_and_Sewing", "Baby_Products", "Health_and_Household", "Office_Products",
        "Digital_Music", "Grocery_and_Gourmet_Food", "Sports_and_Outdoors", "Home_and_Kitchen", "Subscription_Boxes",
        "Tools_and_Home_Improvement", "Pet_Supplies", "Video_Games", "Kindle_Store", "Clothing_Shoes_and_Jewelry",
        "Patio_Lawn_and_Garden", "Unknown", "Books", "Automotive", "CDs_and_Vinyl", "Beauty_and_Personal_Care", "Amazon_Fashion",
        "Magazine_Subscriptions", "Software", "Health_and_Personal_Care", "Appliances", "Movies_and_TV");

    public static IReadOnlyList<AttributeTextDataset> All { get; } =
    [
        // gender_dict = {male: 0, female: 1}; SAEBench's column-2 pair is (male, female).
        new("LabHC/bias_in_bios_class_set1", "hard_text", "profession", "gender", Professions, ["0", "1"],
            [("professor", "nurse"), ("architect", "journalist"), ("surgeon", "psychologist"), ("attorney", "teacher")]),
        new("canrager/amazon_reviews_mcauley_1and5", "text", "category", "rating", AmazonCategories, ["1.0", "5.0"],
            [("Books", "CDs_and_Vinyl"), ("Software", "Electronics"), ("Pet_Supplies", "Office_Products"), ("Industrial_and_Scientific", "Toys_and_Games")]),
    ];

    public static IReadOnlyList<string> ScrNames { get; } = All.Select(d => d.Name).ToList();

    public static AttributeTextDataset? Find(string name) => All.FirstOrDefault(d => d.Name == name);

    /// <summary>The file path of a SAEBench dataset in a data folder (as sparse probing names it).</summary>
    public static string PathOf(string? dataDirectory, string name) => Path.Combine(dataDirectory ?? ".", name.Replace("/", "__"));

    /// <summary>A value as the file codes it: a known name's code, else the value itself.</summary>
    public static string Code(IReadOnlyDictionary<string, string>? codes, string value) =>
        codes is not null && codes.TryGetValue(value, out var c) ? c : value;

    /// <summary>Whether a file's label is the wanted value: numbers compare as numbers ("5" = "5.0"), text ordinally.</summary>
    public static bool Same(string? label, string wanted)
    {
        if (label is null) return false;
        if (string.Equals(label, wanted, StringComparison.Ordinal)) return true;
        return double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
               && double.TryParse(wanted, NumberStyles.Float, CultureInfo.InvariantCulture, out var b) && a == b;
    }

    private static Dictionary<string, string> Codes(params string[] names) =>
        names.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);
}

/// <summary>
/// Rows of a labelled text file with two label columns, split into train and test (test file, else the split field's
/// <c>test</c>/<c>validation</c> rows, else a seeded 20 %). The model under study reads the file (once per column).
/// </summary>
public sealed record AttributeTexts(string[] TrainTexts, string?[] TrainColumn1, string?[] TrainColumn2, string[] TestTexts, string?[] TestColumn1, string?[] TestColumn2)
{
    public static AttributeTexts Load(ILabelledTextSource files, string path, string? testPath, string textField, string column1, string? column2,
        string? splitField, int seed)
    {
        var first = files.Read(new LabelledTextRequest(path, textField, column1, splitField));
        var second = column2 is null ? null : files.Read(new LabelledTextRequest(path, textField, column2, splitField));
        if (testPath is not null)
        {
            var t1 = files.Read(new LabelledTextRequest(testPath, textField, column1));
            var t2 = column2 is null ? null : files.Read(new LabelledTextRequest(testPath, textField, column2));
            return new AttributeTexts(first.Texts.ToArray(), first.Labels.ToArray<string?>(), Column(second, first.Texts.Count, _ => true),
                t1.Texts.ToArray(), t1.Labels.ToArray<string?>(), Column(t2, t1.Texts.Count, _ => true));
        }
        bool[] isTest;
        if (first.Splits.Any(s => s is not null)) isTest = first.Splits.Select(IsTest).ToArray();
        else
        {
            var rng = new Random(seed);
            isTest = Enumerable.Range(0, first.Texts.Count).Select(_ => rng.NextDouble() < 0.2).ToArray();
        }
        string[] Texts(bool test) => Enumerable.Range(0, first.Texts.Count).Where(i => isTest[i] == test).Select(i => first.Texts[i]).ToArray();
        string?[] Labels(LabelledTexts? data, bool test) => Column(data, first.Texts.Count, i => isTest[i] == test);
        return new AttributeTexts(Texts(false), Labels(first, false), Labels(second, false), Texts(true), Labels(first, true), Labels(second, true));
    }

    private static string?[] Column(LabelledTexts? data, int rows, Func<int, bool> keep)
    {
        if (data is not null && data.Labels.Count != rows)
            throw new BadInputException($"the two label columns have {rows} and {data.Labels.Count} rows; they must come from the same file.");
        return Enumerable.Range(0, rows).Where(keep).Select(i => data?.Labels[i]).ToArray();
    }

    private static bool IsTest(string? split) => split is not null
        && (split.Equals("test", StringComparison.OrdinalIgnoreCase) || split.Equals("validation", StringComparison.OrdinalIgnoreCase));
}
