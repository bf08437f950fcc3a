using Akka.Actor;
using Akka.Configuration;
using Akka.Routing;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The entities' deploy answers an empty fallback with itself instead of a merged copy: whatever Akka merges into it must
/// come out as Akka's own merge of the same deploy would (the entity mailbox, no dispatcher, router, scope or stash size).
/// </summary>
public sealed class EntityPropsTests
{
    private static readonly Deploy Plain = new(string.Empty, ConfigurationFactory.Empty, NoRouter.Instance, Deploy.NoScopeGiven,
        Deploy.NoDispatcherGiven, EntityProps.MailboxId, Deploy.NoStashSize);

    private static void SameSettings(Deploy expected, Deploy actual)
    {
        Assert.Equal(expected.Path, actual.Path);
        Assert.Equal(expected.Mailbox, actual.Mailbox);
        Assert.Equal(expected.Dispatcher, actual.Dispatcher);
        Assert.Equal(expected.StashCapacity, actual.StashCapacity);
        Assert.Equal(expected.Scope, actual.Scope);
        Assert.Equal(expected.RouterConfig, actual.RouterConfig);
        Assert.Equal(expected.Config.IsEmpty, actual.Config.IsEmpty);
    }

    [Fact]
    public void Entity_props_carry_the_entity_mailbox_and_nothing_else()
    {
        var props = EntityProps.Of(() => new BlackHoleActor());

        Assert.Equal(EntityProps.MailboxId, props.Mailbox);
        SameSettings(Plain, props.Deploy);
        Assert.Equal(typeof(BlackHoleActor), props.Type);
    }

    [Fact]
    public void An_empty_fallback_merges_into_the_same_settings_as_Akkas_merge_both_ways()
    {
        var deploy = EntityProps.Of(() => new BlackHoleActor()).Deploy;

        SameSettings(Plain.WithFallback(Deploy.None), deploy.WithFallback(Deploy.None));
        SameSettings(Deploy.None.WithFallback(Plain.WithFallback(Deploy.None)), Deploy.None.WithFallback(deploy.WithFallback(Deploy.None)));
    }

    [Fact]
    public void A_fallback_with_settings_of_its_own_still_fills_in_what_the_entity_deploy_leaves_unset()
    {
        var deploy = EntityProps.Of(() => new BlackHoleActor()).Deploy;
        var other = new Deploy("/elsewhere", ConfigurationFactory.ParseString("a = 1"), NoRouter.Instance, Deploy.Local.Scope, "restock-dispatcher",
            "other-mailbox", 7);

        var merged = deploy.WithFallback(other);

        SameSettings(Plain.WithFallback(other), merged);
        Assert.Equal("restock-dispatcher", merged.Dispatcher);
        Assert.Equal(EntityProps.MailboxId, merged.Mailbox);
        Assert.Equal(7, merged.StashCapacity);
    }

    [Fact]
    public void A_copy_of_entity_props_keeps_the_entity_deploy()
    {
        var props = EntityProps.Of(() => new BlackHoleActor());

        var copy = props.WithSupervisorStrategy(SupervisorStrategy.StoppingStrategy);

        Assert.Same(props.Deploy, copy.Deploy);
        Assert.Equal(typeof(BlackHoleActor), copy.Type);
    }

    private sealed class BlackHoleActor : ActorBase
    {
        protected override bool Receive(object message) => true;
    }
}
