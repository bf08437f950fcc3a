using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A new refund asks its shop whether it restocks before its first write, so that the refund and the shop's answer are
/// written together; a shop that does not answer in time does not hold the refund's acknowledgement back for longer.
/// </summary>
public sealed class RefundFirstWriteTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly RefundRequest Refund = new("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);

    [Fact]
    public void A_new_refund_is_acknowledged_with_its_shops_answer_already_recorded()
    {
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var coordinator = Sys.ActorOf(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, RefundSettings.From(Sys.Settings.Config)));

        coordinator.Tell(new RefundSucceeded(Refund));
        shops.ExpectMsg<GetRestockPolicy>(TimeSpan.FromSeconds(10));
        shops.Reply(new RestockPolicyReply("shop", true, 4));

        var accepted = ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10));
        Assert.Equal(RefundOutcome.Accepted, accepted.Outcome);
        Assert.Equal((true, 4L), (accepted.Status!.Restock, accepted.Status.SettingVersion));
        var line = (RefundLine)skus.ExpectMsg<SkuRequest>(TimeSpan.FromSeconds(10)).Command;
        Assert.Equal((true, 4L), (line.Restock, line.SettingVersion));
        shops.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_refund_whose_shop_does_not_answer_in_time_is_acknowledged_alone_and_finishes_once_the_shop_answers()
    {
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var settings = RefundSettings.From(Sys.Settings.Config) with { ShopAnswerBeforeFirstWrite = TimeSpan.FromMilliseconds(300) };
        var coordinator = Sys.ActorOf(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, settings));

        coordinator.Tell(new RefundSucceeded(Refund));
        shops.ExpectMsg<GetRestockPolicy>(TimeSpan.FromSeconds(10));
        var accepted = ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10));
        Assert.Equal(RefundOutcome.Accepted, accepted.Outcome);
        Assert.Null(accepted.Status!.Restock);

        // Asked again, now with the full ask timeout: its answer is recorded and the line goes to its SKU with it.
        shops.ExpectMsg<GetRestockPolicy>(TimeSpan.FromSeconds(10));
        shops.Reply(new RestockPolicyReply("shop", false, 5));
        var line = (RefundLine)skus.ExpectMsg<SkuRequest>(TimeSpan.FromSeconds(10)).Command;
        Assert.Equal((false, 5L), (line.Restock, line.SettingVersion));
        coordinator.Tell(new GetRefund("o1", "r1"));
        var status = ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10)).Status!;
        Assert.Equal((false, 5L), (status.Restock, status.SettingVersion));
    }
}
