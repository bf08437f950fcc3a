using Restock.Actors.LoadTests;
using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// The recovery bench's fresh-process restart: what the parent asks the child reaches it whole, the child's answer is found
/// among whatever else it writes and kept if its shutdown then fails, and a child that does not finish in time says so.
/// </summary>
public class FreshProcessRestartTests
{
    private static readonly RecoveryBench.FirstAnswer First = new(EngineStartMs: 81.5, FirstAnswerMs: 212.25, FromRestartMs: 293.75,
        EventsReplayed: 8_593, Outcome: "Done", ReservedAfter: 10_001, JitMethods: 512, JitMs: 190.5, CpuMs: 401,
        AnsweredAt: new DateTime(2026, 11, 29, 1, 20, 0, 125, DateTimeKind.Utc), ProcessJitMethods: 15_000, ProcessJitMs: 3_100, ProcessCpuMs: 2_400);

    [Fact]
    public void The_child_reads_the_request_the_parent_wrote()
    {
        var request = new FreshProcessRestart.Request("/tmp/a b/recovery.db", "inside the horizon, after a crash, fresh process", "/tmp/reports",
            JitLog: true, ["akka.loglevel = WARNING", "restock.inventory.remember-ids-for = 24h", "--engine"]);

        var read = FreshProcessRestart.Request.Parse([.. request.Arguments()]);

        Assert.Equal((request.File, request.Label, request.Folder, request.JitLog), (read.File, read.Label, read.Folder, read.JitLog));
        Assert.Equal(request.Overrides, read.Overrides);
        Assert.False(FreshProcessRestart.Request.Parse([.. (request with { JitLog = false, Overrides = [] }).Arguments()]).JitLog);
    }

    [Fact]
    public void A_request_missing_its_parts_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FreshProcessRestart.Request.Parse([FreshProcessRestart.Command, "/tmp/recovery.db", "label"]));
        Assert.Throws<ArgumentException>(() => FreshProcessRestart.Request.Parse([FreshProcessRestart.Command, "/tmp/recovery.db", "label", "/tmp", "yes"]));
    }

    [Fact]
    public void The_parent_finds_the_answer_among_the_childs_log_lines()
    {
        var answer = new FreshProcessRestart.Answer(First, FromProcessStartMs: 640.5);
        string[] stdout =
        [
            "[WARNING][11/29/2026 1:20:00 AM][Thread 0001][akka://restock/system/sharding] something Akka said",
            FreshProcessRestart.Write(answer),
            "",
        ];

        Assert.Equal(answer, FreshProcessRestart.Read(stdout));
    }

    [Fact]
    public void A_child_that_wrote_no_answer_is_an_error_not_a_zero()
    {
        Assert.Throws<InvalidDataException>(() => FreshProcessRestart.Read(["[ERROR] the journal could not be opened"]));
    }

    /// <summary>A child standing in for the runner: a shell running <paramref name="script"/>, with the answer as its $1.</summary>
    private static Task<FreshProcessRestart.Finished> Child(string script, TimeSpan timeout) =>
        FreshProcessRestart.AwaitAnswerAsync("/bin/sh", ["-c", script, "child", FreshProcessRestart.Write(new FreshProcessRestart.Answer(First, 640.5))],
            TextWriter.Null, timeout);

    [Theory]
    [InlineData("exec sleep 60", "neither answered nor exited within 5 s")]
    [InlineData("echo \"$1\"; exec sleep 60", "answered but did not exit within 5 s")]
    public async Task A_child_that_does_not_finish_in_time_is_an_error_that_says_what_was_awaited_and_how_long(string script, string said)
    {
        // 5 s, not less: the shell must start and its answer be read within it on a loaded machine; the child is killed then.
        var error = await Assert.ThrowsAsync<TimeoutException>(() => Child(script, TimeSpan.FromSeconds(5)));

        Assert.Contains(said, error.Message);
    }

    [Fact]
    public async Task An_answer_the_child_wrote_is_kept_when_its_shutdown_then_fails_and_its_exit_code_reported()
    {
        var finished = await Child("echo \"$1\"; exit 3", TimeSpan.FromMinutes(1));

        Assert.Equal((new FreshProcessRestart.Answer(First, 640.5), 3), (finished.Answer, finished.ExitCode));
    }

    [Fact]
    public async Task A_child_that_fails_without_an_answer_is_an_error_with_its_exit_code()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Child("echo '[ERROR] the journal could not be opened'; exit 3", TimeSpan.FromMinutes(1)));

        Assert.Contains("code 3", error.Message);
    }

    [Theory]
    [InlineData("{\"first\": ")]
    [InlineData("{}")]
    public void An_answer_that_does_not_read_is_an_error_saying_so(string line)
    {
        var error = Assert.Throws<InvalidDataException>(() => FreshProcessRestart.Read([line]));

        Assert.Contains("answer", error.Message);
    }

    [Fact]
    public async Task A_child_that_fails_after_a_garbled_answer_is_an_error_with_its_exit_code()
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Child("echo '{\"first\": '; exit 3", TimeSpan.FromMinutes(1)));

        Assert.Contains("code 3", error.Message);
    }

    [Fact]
    public void The_command_line_asks_for_a_fresh_process_with_the_crash_alone()
    {
        var command = CommandLine.Parse(["recovery-bench", "--crash-only", "--fresh-process", "--jit-log"]);

        Assert.True(command.RecoveryFreshProcess && command.RecoveryCrashOnly && command.JitLog);
        Assert.False(CommandLine.Parse(["recovery-bench"]).RecoveryFreshProcess);
    }

    [Theory]
    [InlineData("Akka.Actor.ActorCell::Invoke", "Akka")]
    [InlineData("Akka.Persistence.Sql.Journal.SqlJournal::ReplayMessagesAsync", "Akka.Persistence.Sql")]
    [InlineData("LinqToDB.Data.DataConnection::.ctor", "linq2db")]
    [InlineData("Microsoft.Data.Sqlite.SqliteCommand::ExecuteReader", "SQLite")]
    [InlineData("Restock.Actors.Engine.Inventory.SkuActor::OnRecover", "engine")]
    [InlineData("System.Collections.Generic.List`1[Restock.Actors.Domain.Inventory.OpenLine]::Add", "framework generics over engine")]
    [InlineData("System.Collections.Generic.Dictionary`2[System.String,Akka.Actor.IActorRef]::TryGetValue", "framework generics over Akka")]
    [InlineData("System.Collections.Generic.List`1[System.__Canon]::Add", "framework")]
    [InlineData("DotNetty.Buffers.PooledByteBuffer::.ctor", "DotNetty")]
    public void A_compiled_method_is_counted_as_its_owners_code(string method, string owner)
    {
        Assert.Equal(owner, JitLog.Group(method));
    }
}
