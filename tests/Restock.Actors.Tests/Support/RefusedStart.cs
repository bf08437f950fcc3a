using Akka.Configuration;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Support;

/// <summary>
/// An engine started on a database file of its own with configuration entries it must refuse: the refusal comes before
/// anything touches the database, so not even the file's folder is made.
/// </summary>
public static class RefusedStart
{
    public static async Task<ConfigurationException> With(params string[] overrides)
    {
        var folder = Path.Combine(Path.GetTempPath(), "restock-tests", Guid.NewGuid().ToString("N"));
        var config = RestockConfig.Load(name => name == "RESTOCK_CONNECTION_STRING" ? $"Data Source={Path.Combine(folder, "restock.db")}" : null, overrides);

        var failure = await Assert.ThrowsAsync<ConfigurationException>(() => RestockEngine.StartAsync(config));

        Assert.False(Directory.Exists(folder));
        return failure;
    }
}
