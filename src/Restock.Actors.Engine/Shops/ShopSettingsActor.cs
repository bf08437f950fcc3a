using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Persistence;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Shops;

/// <summary>
/// Owns one shop's auto-restock switch and ERP flag. Changes are rare, so each is persisted on its own
/// before the reply; policy questions from refund coordinators are answered from memory.
/// </summary>
public sealed class ShopSettingsActor : ReceivePersistentActor
{
    private readonly string _shopId;
    private readonly string _persistenceId;
    private readonly IdleWatch _idle;
    private ShopSettings _settings = ShopSettings.Default;

    public ShopSettingsActor(string shopId, TimeSpan idleBeforePassivation)
    {
        _shopId = shopId;
        _persistenceId = "shop-" + shopId;
        _idle = new IdleWatch(idleBeforePassivation);
        Recover<ShopEvent>(e => _settings = ShopRules.Apply(_settings, e));
        Command<ShopRequest>(r => Handle(r.Command));
        Command<GetShopSettings>(_ => Sender.Tell(Reply(ShopOutcome.Done)));
        Command<GetRestockPolicy>(q =>
        {
            var policy = _settings.PolicyAt(q.CompletedAt);
            Sender.Tell(new RestockPolicyReply(_shopId, policy.Restock, policy.SettingVersion));
        });
        Command<IdleWatch.Check>(_ =>
        {
            if (_idle.IsIdle(Context)) Context.Parent.Tell(new Passivate(StopEntity.Instance));
        });
        // A write under way holds this back (stashed) until it is confirmed.
        Command<PassivateIfIdle>(_ => Context.Parent.Tell(new Passivate(StopEntity.Instance)));
        // Handoff or passivation: an ordinary message, so it waits (stashed) until a write under way is confirmed.
        Command<StopEntity>(_ => Context.Stop(Self));
        _idle.Start(Context);
    }

    public static Props Props(string shopId, TimeSpan idleBeforePassivation) =>
        EntityProps.Of(() => new ShopSettingsActor(shopId, idleBeforePassivation));

    // Read several times per write: built once.
    public override string PersistenceId => _persistenceId;

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not IdleWatch.Check) _idle.Seen();
        return base.AroundReceive(receive, message);
    }

    private void Handle(ShopCommand command)
    {
        switch (ShopRules.Decide(_settings, command))
        {
            case ShopAccepted { Events.Count: > 0 } accepted:
                var replyTo = Sender;
                var left = accepted.Events.Count;
                PersistAll(accepted.Events, e =>
                {
                    _settings = ShopRules.Apply(_settings, e);
                    if (--left == 0) replyTo.Tell(Reply(ShopOutcome.Done) with { Message = accepted.Note });
                });
                break;
            case ShopAccepted unchanged:
                Sender.Tell(Reply(ShopOutcome.AlreadyDone) with { Message = unchanged.Note });
                break;
            case ShopRejected rejected:
                Sender.Tell(new ShopReply(_shopId, ShopOutcome.Rejected, rejected.Code, rejected.Message, _settings));
                break;
        }
    }

    private ShopReply Reply(ShopOutcome outcome) => new(_shopId, outcome, null, null, _settings);
}
