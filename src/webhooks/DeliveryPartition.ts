import { Entity, EntityId, Sharding } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Context, Effect, FiberSet, Layer, LogLevel, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { makePermitQueue } from "../platform/PermitQueue.ts"
import { annotateSpanWhenTracing, logWhenEnabled, withSpanWhenTracing } from "../platform/Spans.ts"
import { Delivery } from "./Delivery.ts"
import { claimBatchSize, DeliveryStore } from "./DeliveryStore.ts"

/**
 * Asks a partition to drain the due deliveries of one of its subscriptions.
 * Not persisted: the `webhook_deliveries` rows are the durable queue, and a
 * lost wake-up is made up for by the sweeper.
 */
export const Wake = Rpc.make("Wake", { payload: { subscriptionId: Schema.String } })

/**
 * The owner of the delivery queues of one partition of the subscriptions,
 * keyed by the partition number (`partitionOf`). The cluster runs each
 * partition on one runner at a time, so no two runners ever work the same
 * subscription. A fixed number of partitions, instead of one entity per
 * subscription, keeps the cluster's per-entity state and start-up work
 * independent of the number of subscriptions.
 */
export const DeliveryPartition = Entity.make("DeliveryPartition", [Wake])

/** Number of delivery partitions. Changing it moves subscriptions between partitions. */
export const deliveryPartitionCount = 256

/**
 * Returns the partition of a subscription: the 32-bit FNV-1a hash of its id
 * modulo `deliveryPartitionCount`, as a decimal string.
 */
export const partitionOf = (subscriptionId: string): string => {
  let hash = 0x811c9dc5
  for (let index = 0; index < subscriptionId.length; index++) {
    hash ^= subscriptionId.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return String((hash >>> 0) % deliveryPartitionCount)
}

/**
 * Whether the engine is stopping. Once set, drains start no new attempt:
 * attempts in flight finish and are recorded, and the rest of the claimed
 * batch is released for the next runner.
 */
export class EngineStopping extends Context.Tag("saleslab/DeliveryPartition/EngineStopping")<
  EngineStopping,
  { stopping: boolean }
>() {}

/** A running drain and its request for one more pass. */
export interface RunningDrain {
  passRequested: boolean
  /**
   * Set when the subscription's URL or status changed during the drain. The
   * drain then starts no more attempts from its current batch, and claims
   * again, with the new settings.
   */
  subscriptionChanged: boolean
}

/**
 * The drains running on this runner, by subscription id. The partitions
 * add and remove them, and the runner's wakers request more passes of them
 * directly (`makeBackgroundWaker`).
 */
export class RunningDrains extends Context.Tag("saleslab/DeliveryPartition/RunningDrains")<
  RunningDrains,
  Map<string, RunningDrain>
>() {
  static readonly layer = Layer.sync(RunningDrains, () => new Map<string, RunningDrain>())
}

/**
 * The partition's behaviour. A `Wake` drains the named subscription: it
 * claims due deliveries in batches of at most 50 and attempts each batch in
 * order, `AppConfig.subscriptionConcurrency` at a time, until nothing is
 * due. A `Wake` for a subscription whose drain is running only requests one
 * more pass of that drain, so wake-ups never pile up work. Each drain runs
 * in the fiber of its own `Wake`, so a stalled receiver holds up only its
 * own subscription. The partition keeps state only for running drains.
 */
const DeliveryPartitionEntity = DeliveryPartition.toLayer(
  Effect.gen(function*() {
    const store = yield* DeliveryStore
    const delivery = yield* Delivery
    const stop = yield* EngineStopping

    const drains = yield* RunningDrains

    /**
     * Claims and attempts batches until a claim returns less than a full
     * batch; returns the number of attempts. A delivery queued after that
     * claim brings a `Wake` of its own, which requests another pass.
     */
    const drainDue = (subscriptionId: string, running: RunningDrain) =>
      Effect.gen(function*() {
        let attempted = 0
        const batchStopped = () => stop.stopping || running.subscriptionChanged
        while (!stop.stopping) {
          running.subscriptionChanged = false
          const batch = yield* store.claimDue(subscriptionId, claimBatchSize).pipe(
            Effect.tap((claimed) => annotateSpanWhenTracing("webhook.claimed_count", claimed.length)),
            withSpanWhenTracing("Delivery.load", {
              attributes: { "webhook.subscription_id": subscriptionId },
              captureStackTrace: false
            })
          )
          if (batch.length > 0) yield* delivery.attemptBatch(batch, batchStopped)
          attempted += batch.length
          if (batch.length < claimBatchSize) return attempted
        }
        return attempted
      })

    /**
     * Runs passes of `drainDue` while one is requested. The drain removes
     * itself from `drains` in the same step as it finds no request, so a
     * `Wake` either requests a pass of this drain or starts a new one.
     */
    const drain = (subscriptionId: string, running: RunningDrain) =>
      Effect.gen(function*() {
        // Names the runner that works the subscription, which matters when partitions move.
        yield* logWhenEnabled(LogLevel.Debug, "Subscription drain started", { subscription_id: subscriptionId })
        let attempted = 0
        while (running.passRequested) {
          running.passRequested = false
          attempted += yield* delivery.withDrainPermit(drainDue(subscriptionId, running))
          if (!running.passRequested) drains.delete(subscriptionId)
        }
        if (attempted > 0) {
          yield* logWhenEnabled(LogLevel.Debug, "Subscription drained", { subscription_id: subscriptionId, attempted })
        }
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("Draining the subscription failed; the next sweep wakes it again", cause).pipe(
            Effect.annotateLogs({ subscription_id: subscriptionId })
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          if (drains.get(subscriptionId) === running) drains.delete(subscriptionId)
        })),
        withSpanWhenTracing("Subscription.drain", {
          attributes: { "webhook.subscription_id": subscriptionId },
          captureStackTrace: false
        })
      )

    return {
      Wake: ({ payload: { subscriptionId } }) =>
        Effect.suspend(() => {
          const running = drains.get(subscriptionId)
          if (running !== undefined) {
            running.passRequested = true
            return Effect.void
          }
          const started = { passRequested: true, subscriptionChanged: false }
          drains.set(subscriptionId, started)
          return drain(subscriptionId, started)
        })
    }
  }),
  // Concurrent handling runs the drains of a partition side by side and lets
  // a Wake for a running drain return at once. Each subscription has at most
  // a few Wakes open, so the mailbox needs no bound of its own.
  { concurrency: "unbounded", mailboxCapacity: "unbounded" }
)

/**
 * Sets `EngineStopping` when its scope closes. Built after the cluster, it
 * is closed before the cluster stops its entities, so running drains wind
 * down instead of working through their whole queue.
 */
const StopSignalLive = Layer.scopedDiscard(
  Effect.flatMap(EngineStopping, (stop) =>
    Effect.addFinalizer(() =>
      Effect.suspend(() => {
        stop.stopping = true
        return Effect.logInfo("Delivery engine stopping")
      })
    ))
)

/** The `DeliveryPartition` entity registered with the cluster, with its stop signal. */
export const DeliveryPartitionLive = Layer.merge(DeliveryPartitionEntity, StopSignalLive).pipe(
  Layer.provide(Layer.sync(EngineStopping, () => ({ stopping: false })))
)

/**
 * Returns a function that wakes a subscription's partition for the
 * subscription, without waiting for a reply. A failed send is logged, never
 * raised, because the sweeper wakes the subscription again.
 */
export const makeWaker = Effect.map(DeliveryPartition.client, (clientFor) => (subscriptionId: string) =>
  clientFor(partitionOf(subscriptionId)).Wake({ subscriptionId }, { discard: true }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("Waking the subscription failed", cause).pipe(
        Effect.annotateLogs({ subscription_id: subscriptionId })
      )
    )
  ))

/** The runner of a subscription's partition, from this runner's view of its shard locks. */
export type EntityPlace = "here" | "elsewhere"

/**
 * Returns a function that locates a subscription's partition, from the
 * runner's own view of its shard locks. In `socket` mode it runs `here`
 * when this runner holds the lock of the partition's shard. In `single`
 * mode it always runs `here`, also before the runner has acquired its locks
 * or after it lost them, and a wake-up then waits until the locks are back.
 */
export const makeEntityLocator = Effect.gen(function*() {
  const sharding = yield* Sharding.Sharding
  const { cluster } = yield* AppConfig
  if (cluster.mode === "single") return (_subscriptionId: string): EntityPlace => "here"
  return (subscriptionId: string): EntityPlace => {
    const entityId = EntityId.make(partitionOf(subscriptionId))
    return sharding.hasShardId(sharding.getShardId(entityId, DeliveryPartition.getShardGroup(entityId)))
      ? "here"
      : "elsewhere"
  }
})

/** Returns a predicate that is true when a subscription's partition runs on this runner (`makeEntityLocator`). */
export const makeOwnershipCheck = Effect.map(
  makeEntityLocator,
  (locate) => (subscriptionId: string) => locate(subscriptionId) === "here"
)

/** Returns a function that finds a subscription's drain when it runs on this runner, in `drains`. */
const makeLocalDrainFinder = (
  locate: (subscriptionId: string) => EntityPlace,
  drains: ReadonlyMap<string, RunningDrain>
) =>
(subscriptionId: string): RunningDrain | undefined =>
  locate(subscriptionId) === "here" ? drains.get(subscriptionId) : undefined

/**
 * Returns a function that requests one more pass of a subscription's drain
 * when that drain runs on this runner, in `drains`, and returns whether it
 * did. It needs no fiber, so a caller outside one, such as a notification
 * handler, can try it before it queues a wake-up.
 */
export const makePassRequester = (
  locate: (subscriptionId: string) => EntityPlace,
  drains: ReadonlyMap<string, RunningDrain>
) => {
  const findDrain = makeLocalDrainFinder(locate, drains)
  return (subscriptionId: string): boolean => {
    const running = findDrain(subscriptionId)
    if (running === undefined) return false
    running.passRequested = true
    return true
  }
}

/**
 * Returns a function that marks a subscription's drain, when it runs on this
 * runner, as one whose subscription changed its URL or status, and requests
 * one more pass of it, which claims with the new settings.
 */
export const makeChangeNotifier = (
  locate: (subscriptionId: string) => EntityPlace,
  drains: ReadonlyMap<string, RunningDrain>
) => {
  const findDrain = makeLocalDrainFinder(locate, drains)
  return (subscriptionId: string): void => {
    const running = findDrain(subscriptionId)
    if (running === undefined) return
    running.subscriptionChanged = true
    running.passRequested = true
  }
}

/**
 * Maximum wake-ups in flight from one waker to partitions of this runner.
 * A sweep can wake thousands of subscriptions, and unbounded, their
 * wake-ups would all queue ahead of other fibers, such as the shard lock
 * refresh.
 */
export const localWakesInFlight = 64

/**
 * Returns a function that runs `wake` for a subscription in a background
 * fiber and returns at once. It keeps at most one wake-up per subscription
 * in flight and at most `localWakesInFlight` to partitions `here`, so that
 * while the runner waits for its shard locks, only that many retry every
 * 100 ms and the rest wait in line. Remote wake-ups are not bounded: a remote
 * runner replies only when the drain ends, and a wake-up for a dead runner
 * is retried every 100 ms until the shard has a new owner. The fibers are
 * interrupted when the scope closes.
 *
 * A subscription whose drain runs `here`, in `drains`, gets its next pass
 * requested in place, as its `Wake` would, with no fiber and no message
 * through the cluster: under a backlog, nearly every notification finds
 * its drain running. When the partition's shard has just moved away, the
 * old drain may absorb the request as it stops, and the sweeper then wakes
 * the subscription on its new runner.
 */
export const makeBackgroundWakerOf = <R>(
  wake: (subscriptionId: string) => Effect.Effect<void, never, R>,
  locate: (subscriptionId: string) => EntityPlace,
  drains: ReadonlyMap<string, RunningDrain>
) =>
  Effect.gen(function*() {
    const localPermits = yield* makePermitQueue(localWakesInFlight)
    const fibers = yield* FiberSet.make()
    const inFlight = new Set<string>()
    const requestPass = makePassRequester(locate, drains)
    return (subscriptionId: string) =>
      Effect.suspend(() => {
        if (requestPass(subscriptionId)) return Effect.void
        const place = locate(subscriptionId)
        if (inFlight.has(subscriptionId)) return Effect.void
        inFlight.add(subscriptionId)
        const send = place === "here" ? localPermits.withPermit(wake(subscriptionId)) : wake(subscriptionId)
        const wakeOnce = send.pipe(Effect.ensuring(Effect.sync(() => inFlight.delete(subscriptionId))))
        return Effect.asVoid(FiberSet.run(fibers, wakeOnce))
      })
  })

/** `makeBackgroundWakerOf` with the cluster's `Wake`, the runner's `makeEntityLocator` and its `RunningDrains`. */
export const makeBackgroundWaker = Effect.gen(function*() {
  const wake = yield* makeWaker
  const locate = yield* makeEntityLocator
  const drains = yield* RunningDrains
  return yield* makeBackgroundWakerOf(wake, locate, drains)
})
