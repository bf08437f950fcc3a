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
    private ShopSettings _settings = ShopSettings.Default;

    public ShopSettingsActor(string shopId, TimeSpan idleBeforePassivation)
    {
        _shopId = shopId;
        Recover<ShopEvent>(e => _settings = ShopRules.Apply(_settings, e));
        Command<ShopRequest>(r => Handle(r.Command));
        Command<GetShopSettings>(_ => Sender.Tell(Reply(ShopOutcome.Done)));
        Command<GetRestockPolicy>(q =>
        {
            var policy = _settings.PolicyAt(q.CompletedAt);
            Sender.Tell(new RestockPolicyReply(_shopId, policy.Restock, policy.SettingVersion));
        });
        Command<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(StopEntity.Instance)));
        // Handoff or passivation: an ordinary message, so it waits (stashed) until a write under way is confirmed.
        Command<StopEntity>(_ => Context.Stop(Self));
        SetReceiveTimeout(idleBeforePassivation);
    }

    public static Props Props(string shopId, TimeSpan idleBeforePassivation) =>
        EntityProps.Of(() => new ShopSettingsActor(shopId, idleBeforePassivation));

    public override string PersistenceId => "shop-" + _shopId;

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
