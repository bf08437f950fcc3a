using Xunit.Abstractions;

namespace Restock.Actors.Tests.Support;

/// <summary>Akka.TestKit on the shipped configuration, with a SQLite journal file of the test's own, prepared as the engine prepares it.</summary>
public abstract class EngineTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected EngineTestKit(ITestOutputHelper output, params string[] overrides) : this(new TestDatabase(), output, overrides)
    {
    }

    private EngineTestKit(TestDatabase db, ITestOutputHelper output, string[] overrides) : base(db.PreparedConfig(overrides), "restock", output)
    {
        Db = db;
    }

    protected TestDatabase Db { get; }

    protected override void AfterAll()
    {
        base.AfterAll();
        Db.Dispose();
    }
}
