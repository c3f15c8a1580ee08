import { Singleton } from "@effect/cluster"
import { Effect, Layer, Metric, Option, Schedule } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookOldestDueAge, webhookQueueDepth, webhookSweeps, webhookSweepWokenSubscriptions } from "../platform/Metrics.ts"
import { DeliveryStore } from "./DeliveryStore.ts"
import { makeWaker } from "./WebhookEndpoint.ts"

/**
 * Wakes every subscription that has due deliveries. It covers scheduled
 * retries, notifications lost while no LISTEN connection was up, and
 * deliveries left behind by a runner that stopped.
 */
export class Sweeper extends Effect.Service<Sweeper>()("saleslab/Sweeper", {
  effect: Effect.gen(function*() {
    const store = yield* DeliveryStore
    const wake = yield* makeWaker

    /** Runs one sweep now and returns the number of subscriptions woken. */
    const sweep = Effect.gen(function*() {
      const subscriptionIds = yield* store.subscriptionsWithDueDeliveries
      yield* Effect.forEach(subscriptionIds, wake, { discard: true })
      // Counted before the next query, so the counter already includes these
      // wakes when their first deliveries arrive.
      yield* Metric.incrementBy(webhookSweepWokenSubscriptions, subscriptionIds.length)

      const queue = yield* store.dueQueueStats
      yield* Metric.set(webhookQueueDepth, queue.depth)
      const oldestDueAgeMs = Option.match(queue.oldestDueAt, {
        onNone: () => 0,
        onSome: (dueAt) => Math.max(0, queue.at.getTime() - dueAt.getTime())
      })
      yield* Metric.set(webhookOldestDueAge, oldestDueAgeMs / 1000)
      // Counted last, so a reader that sees the sweep counted also sees its gauges.
      yield* Metric.increment(webhookSweeps)

      if (subscriptionIds.length > 0) {
        yield* Effect.logDebug("Delivery sweep woke subscriptions").pipe(
          Effect.annotateLogs({ subscriptions: subscriptionIds.length })
        )
      }
      return subscriptionIds.length
    }).pipe(Effect.withSpan("Sweeper.sweep"))

    return { sweep } as const
  })
}) {}

/**
 * Runs a sweep every `AppConfig.sweepInterval` on exactly one runner of the
 * cluster, as a cluster singleton.
 */
export const SweeperSingletonLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { sweepInterval } = yield* AppConfig
    const sweeper = yield* Sweeper
    const sweepSafely = sweeper.sweep.pipe(
      Effect.catchAllCause((cause) => Effect.logError("Delivery sweep failed", cause))
    )
    return Singleton.make("webhooks/DeliverySweeper", Effect.repeat(sweepSafely, Schedule.spaced(sweepInterval)))
  })
)
