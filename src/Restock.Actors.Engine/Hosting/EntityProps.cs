using Akka.Actor;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Props for sharded entities, built with a plain delegate. <c>Props.Create(() => new ...)</c> compiles its expression
/// on every call, and sharding asks for an entity's props each time one starts: when thousands of SKUs started at
/// once, compiling and then finalizing those dynamic methods was about a fifth of the process's CPU time.
/// </summary>
public static class EntityProps
{
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => Props.CreateBy(new Producer<TActor>(create));

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor)
        {
        }
    }
}
