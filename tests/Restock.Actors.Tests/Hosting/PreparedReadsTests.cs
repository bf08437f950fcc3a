using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The shared recovery reads on SQLite keep their statements prepared on open connections (<see cref="PreparedReads"/>):
/// a reused statement answers each query's own parameters, whatever ran before it on that connection.
/// </summary>
public sealed class PreparedReadsTests : IDisposable
{
    private readonly TestDatabase _db = new();

    public PreparedReadsTests()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_db.Path)!);
        // As the engine prepares its file before the journal opens.
        _db.Execute("PRAGMA journal_mode=WAL");
        _db.Execute("CREATE TABLE stock (sku TEXT NOT NULL, units INTEGER NOT NULL)");
        _db.Execute("INSERT INTO stock VALUES " + string.Join(", ", Enumerable.Range(0, 20).Select(i => $"('sku-{i}', {i})")));
    }

    // A statement per count of ids, as the shared reads build theirs.
    private static string Statement(int ids) =>
        $"SELECT sku, units FROM stock WHERE sku IN ({string.Join(", ", Enumerable.Range(0, ids).Select(RecoveryReads.ParameterName))}) ORDER BY units";

    private static Task<List<string>> Read(PreparedReads reads, params int[] skus) =>
        reads.QueryAsync(Statement(skus.Length), skus.Select(i => (object)$"sku-{i}").ToList(), r => $"{r.GetString(0)}={r.GetInt64(1)}",
            CancellationToken.None);

    [Fact]
    public async Task A_reused_statement_answers_each_query_s_own_parameters_also_beside_other_statements_and_queries()
    {
        using var reads = new PreparedReads(_db.ConnectionString);
        var random = new Random(7);
        // More statement texts than a connection keeps, in a changing order, two queries at a time.
        for (var round = 0; round < 40; round++)
        {
            var queries = Enumerable.Range(0, 2).Select(_ =>
            {
                var skus = Enumerable.Range(0, 20).OrderBy(_ => random.Next()).Take(random.Next(1, 8)).ToArray();
                return (Skus: skus, Answer: Task.Run(() => Read(reads, skus)));
            }).ToList();
            foreach (var (skus, answer) in queries)
                Assert.Equal(skus.Order().Select(i => $"sku-{i}={i}"), await answer);
        }
    }

    [Fact]
    public async Task A_failed_query_fails_alone_and_the_next_one_answers()
    {
        using var reads = new PreparedReads(_db.ConnectionString);
        Assert.Equal(["sku-3=3"], await Read(reads, 3));
        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() =>
            reads.QueryAsync("SELECT sku FROM no_such_table WHERE sku = @p0", ["sku-1"], r => r.GetString(0), CancellationToken.None));
        Assert.Equal(["sku-3=3", "sku-4=4"], await Read(reads, 4, 3));
    }

    [Fact]
    public async Task A_kept_statement_reads_what_was_committed_since_it_last_ran_and_once_disposed_it_answers_no_more()
    {
        var reads = new PreparedReads(_db.ConnectionString);
        Assert.Equal(["sku-5=5"], await Read(reads, 5));
        _db.Execute("UPDATE stock SET units = 55 WHERE sku = 'sku-5'");
        Assert.Equal(["sku-5=55"], await Read(reads, 5));
        reads.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Read(reads, 5));

        _db.Execute("UPDATE stock SET units = 50 WHERE sku = 'sku-5'");
        using var next = new PreparedReads(_db.ConnectionString);
        Assert.Equal(["sku-5=50"], await Read(next, 5));
    }

    public void Dispose() => _db.Dispose();
}
