namespace SaeBench.TestKit;

/// <summary>
/// Test categories, used as <c>[Trait(Category.Name, Category.Slow)]</c>. The fast loop is
/// <c>dotnet test SaeBench.Net.sln -c Release --filter "Category!=Slow"</c>; CI runs everything.
/// </summary>
public static class Category
{
    public const string Name = "Category";

    /// <summary>Heavy tests: model training, a browser, gigabyte files, full pipelines.</summary>
    public const string Slow = "Slow";
}
