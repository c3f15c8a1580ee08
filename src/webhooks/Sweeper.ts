import { Singleton } from "@effect/cluster"
import { Effect, Layer, Metric, Schedule } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookOldestDueAge, webhookQueueDepth, webhookSweeps, webhookSweepWokenSubscriptions } from "../platform/Metrics.ts"
import { makeBackgroundWaker, makeOwnershipCheck } from "./DeliveryPartition.ts"
import { DeliveryStore } from "./DeliveryStore.ts"

/**
 * Wakes every subscription that has due deliveries, and measures the due
 * queue of this runner. The sweep covers scheduled retries, notifications
 * lost while no LISTEN connection was up or while no runner held a shard,
 * and deliveries left behind by a runner that stopped.
 */
export class Sweeper extends Effect.Service<Sweeper>()("saleslab/Sweeper", {
  scoped: Effect.gen(function*() {
    const store = yield* DeliveryStore
    const wake = yield* makeBackgroundWaker
    const ownsSubscription = yield* makeOwnershipCheck
    const { cluster } = yield* AppConfig
    const runner = `${cluster.runnerAddress.host}:${cluster.runnerAddress.port}`
    const queueDepth = Metric.tagged(webhookQueueDepth, "runner", runner)
    const oldestDueAge = Metric.tagged(webhookOldestDueAge, "runner", runner)

    /**
     * Runs one sweep now over the subscriptions of every runner and returns
     * the number of subscriptions woken. The wake-ups run in the background,
     * so a sweep never waits for a drain, nor for a dead runner's shards to
     * move.
     */
    const sweep = Effect.gen(function*() {
      const subscriptionIds = yield* store.subscriptionsWithDueDeliveries
      yield* Effect.forEach(subscriptionIds, wake, { discard: true })
      yield* Metric.incrementBy(webhookSweepWokenSubscriptions, subscriptionIds.length)
      yield* Metric.increment(webhookSweeps)

      if (subscriptionIds.length > 0) {
        yield* Effect.logDebug("Delivery sweep woke subscriptions").pipe(
          Effect.annotateLogs({ subscriptions: subscriptionIds.length })
        )
      }
      return subscriptionIds.length
    }).pipe(Effect.withSpan("Sweeper.sweep"))

    /**
     * Sets this runner's queue gauges from the due deliveries of the
     * subscriptions whose shards it owns now. With one runner, that is
     * every subscription.
     */
    const measureQueue = Effect.gen(function*() {
      const queue = yield* store.dueQueueStats
      let depth = 0
      let oldestDueAt = Number.POSITIVE_INFINITY
      for (const subscription of queue.subscriptions) {
        if (!ownsSubscription(subscription.subscriptionId)) continue
        depth += subscription.depth
        oldestDueAt = Math.min(oldestDueAt, subscription.oldestDueAt.getTime())
      }
      const oldestDueAgeMs = depth === 0 ? 0 : Math.max(0, queue.at.getTime() - oldestDueAt)
      yield* Metric.set(queueDepth, depth)
      yield* Metric.set(oldestDueAge, oldestDueAgeMs / 1000)
    }).pipe(Effect.withSpan("Sweeper.measureQueue"))

    return { sweep, measureQueue } as const
  })
}) {}

/**
 * Runs a sweep every `AppConfig.sweepInterval` on exactly one runner of the
 * cluster, as a cluster singleton, and on every runner measures its own due
 * queue on the same interval.
 */
export const SweeperLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { sweepInterval } = yield* AppConfig
    const sweeper = yield* Sweeper
    const sweepSafely = sweeper.sweep.pipe(
      Effect.catchAllCause((cause) => Effect.logError("Delivery sweep failed", cause))
    )
    const measureSafely = sweeper.measureQueue.pipe(
      Effect.catchAllCause((cause) => Effect.logError("Measuring the delivery queue failed", cause))
    )
    const measureOnEveryRunner = Layer.scopedDiscard(
      Effect.forkScoped(Effect.repeat(measureSafely, Schedule.spaced(sweepInterval)))
    )
    return Layer.merge(
      Singleton.make("webhooks/DeliverySweeper", Effect.repeat(sweepSafely, Schedule.spaced(sweepInterval))),
      measureOnEveryRunner
    )
  })
)
