import { Duration, Effect, Fiber, Metric, Option } from "effect"
import { webhookAttemptDuration, webhookAttempts, webhookDeliveryLag } from "../platform/Metrics.ts"
import { currentDate, DeliveryClock } from "./DeliveryClock.ts"
import { type ClaimedDelivery, DeliveryStore } from "./DeliveryStore.ts"
import { judgeAttempt } from "./RetryPolicy.ts"
import { deliveryHeaders } from "./Signing.ts"
import { statusCodeOf, WebhookSender } from "./WebhookSender.ts"

/**
 * One attempt of one claimed delivery, in phases: sign the stored body, send
 * it, judge the result against the retry policy and record the attempt.
 */
export class Delivery extends Effect.Service<Delivery>()("saleslab/Delivery", {
  effect: Effect.gen(function*() {
    const store = yield* DeliveryStore
    const sender = yield* WebhookSender
    const now = currentDate(yield* DeliveryClock)

    const attempt = (delivery: ClaimedDelivery) =>
      Effect.gen(function*() {
        const attributes = { subscriptionId: delivery.subscriptionId, deliveryId: delivery.deliveryId }
        const attemptNumber = delivery.attempts + 1

        const headers = yield* Effect.sync(() => deliveryHeaders(delivery)).pipe(
          Effect.withSpan("Delivery.sign", { attributes })
        )

        const startedAt = yield* now
        const report = yield* sender.send({ url: delivery.url, headers, body: delivery.body }).pipe(
          Effect.withSpan("Delivery.send", { attributes })
        )

        const verdict = judgeAttempt(attemptNumber, report.result)
        const finishedAt = yield* now
        yield* Metric.update(webhookAttemptDuration, report.durationMs / 1000)
        const nextAttemptAt = Option.map(verdict.retryAfter, (delay) => new Date(finishedAt.getTime() + Duration.toMillis(delay)))
        const statusCode = statusCodeOf(report.result)
        const error = Option.map(verdict.error, (failure) => failure.message)

        const recorded = yield* store.recordAttempt({
          delivery,
          startedAt,
          durationMs: report.durationMs,
          statusCode,
          responseBody: report.result._tag === "Response" ? Option.some(report.result.responseBody) : Option.none(),
          error,
          outcome: verdict.outcome,
          nextAttemptAt
        }).pipe(Effect.withSpan("Delivery.record", { attributes }))

        const annotations = {
          attempt: attemptNumber,
          outcome: verdict.outcome,
          status_code: Option.getOrNull(statusCode),
          duration_ms: report.durationMs,
          error: Option.getOrNull(error),
          next_attempt_at: Option.getOrNull(Option.map(nextAttemptAt, (at) => at.toISOString()))
        }
        if (recorded) {
          const byKind = Metric.tagged(webhookAttempts, "event_kind", delivery.eventKind)
          yield* Metric.increment(Metric.tagged(byKind, "outcome", verdict.outcome))
        }
        if (recorded && verdict.outcome === "succeeded") {
          yield* Metric.update(webhookDeliveryLag, Math.max(0, finishedAt.getTime() - delivery.eventAt.getTime()) / 1000)
        }
        if (!recorded) {
          yield* Effect.logWarning("Delivery attempt already recorded by another runner; result dropped").pipe(
            Effect.annotateLogs(annotations)
          )
        } else if (verdict.outcome === "succeeded") {
          yield* Effect.logInfo("Delivery attempt finished").pipe(Effect.annotateLogs(annotations))
        } else {
          yield* Effect.logWarning("Delivery attempt finished").pipe(Effect.annotateLogs(annotations))
        }
      }).pipe(
        Effect.annotateLogs({ delivery_id: delivery.deliveryId, subscription_id: delivery.subscriptionId }),
        Effect.withSpan("Delivery.attempt", {
          attributes: { subscriptionId: delivery.subscriptionId, deliveryId: delivery.deliveryId }
        })
      )

    /**
     * Runs one attempt to its end even when the caller is interrupted, such as
     * at shutdown: a request already sent is finished, within the delivery
     * timeout, and recorded. The attempt runs on a fiber of its own, so its
     * timeout can still interrupt the request. The caller waits for that
     * fiber without being interruptible.
     */
    const attemptToCompletion = (delivery: ClaimedDelivery) =>
      Effect.uninterruptible(
        Effect.flatMap(Effect.forkDaemon(Effect.interruptible(attempt(delivery))), Fiber.join)
      )

    return { attempt, attemptToCompletion } as const
  })
}) {}
