using Akka.Actor;
using Akka.Configuration;
using Akka.Routing;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Props of a sharded entity: the entity's mailbox (<see cref="EntityMailbox"/>), and the actor built by a plain
/// method. <c>Props.Create(() => new ...)</c> compiles its expression on every call, and sharding asks for an entity's
/// props each time one starts: when thousands of SKUs started at once, compiling and then finalizing those dynamic
/// methods was about a fifth of the process's CPU time. The cell keeps its Props for the actor's life, so a subclass
/// holding the entity's arguments costs one object per entity instead of a Props, a delegate, its closure and a producer.
/// </summary>
public abstract class EntityProps<TActor> : Props where TActor : ActorBase
{
    // The producer every entity of this type shares; only the arguments differ.
    private static readonly Props Template = CreateBy(new TypeOf());

    protected EntityProps() : base(Template) => Deploy = EntityProps.Deploy;

    /// <summary>A copy (Akka copies Props to change their deploy) keeps the source's deploy and supervisor strategy.</summary>
    protected EntityProps(EntityProps<TActor> source) : base(source)
    {
    }

    public abstract override ActorBase NewActor();

    private sealed class TypeOf : IIndirectActorProducer
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => throw new InvalidOperationException($"{typeof(TActor).Name} is built by its entity Props");

        public void Release(ActorBase actor)
        {
        }
    }
}

public static class EntityProps
{
    /// <summary>Where hocon/restock.conf configures <see cref="EntityMailbox"/>.</summary>
    public const string MailboxId = "restock.entity-mailbox";

    /// <summary>The deploy of every entity: the entity mailbox, nothing else.</summary>
    internal static readonly Deploy Deploy = new EntityDeploy(MailboxId);

    /// <summary>For entity types that start rarely enough that a delegate per entity does not matter.</summary>
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => new Delegated<TActor>(create);

    private sealed class Delegated<TActor> : EntityProps<TActor> where TActor : ActorBase
    {
        private readonly Func<TActor> _create;

        public Delegated(Func<TActor> create) => _create = create;

        private Delegated(Delegated<TActor> source) : base(source) => _create = source._create;

        public override ActorBase NewActor() => _create();

        protected override Props Copy() => new Delegated<TActor>(this);
    }
}

/// <summary>
/// The entities' deploy. Creating a child, Akka's remote (and cluster) provider merges the child's Props deploy onto an
/// empty one (<see cref="Deploy.None"/>, as no configured deployment applies below /system) and the result onto an empty
/// one again; each merge builds a new Deploy, whose constructor parses an empty HOCON string. Merging an empty deploy
/// into this one changes nothing, so it answers itself: one merge less per entity started.
/// </summary>
internal sealed class EntityDeploy(string mailbox) : Deploy(string.Empty, ConfigurationFactory.Empty, NoRouter.Instance, NoScopeGiven, NoDispatcherGiven, mailbox, NoStashSize)
{
    public override Deploy WithFallback(Deploy other) => ReferenceEquals(other, None) ? this : base.WithFallback(other);
}
