import { Duration, Effect, FiberRef, LogLevel, Metric, Option } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookAttemptDuration, webhookAttempts, webhookDeliveryLag } from "../platform/Metrics.ts"
import { makePermitQueue } from "../platform/PermitQueue.ts"
import { logWhenEnabled, withSpanIf } from "../platform/Spans.ts"
import { currentDate, DeliveryClock } from "./DeliveryClock.ts"
import { type ClaimedDelivery, DeliveryStore, recordAllowance } from "./DeliveryStore.ts"
import { judgeAttempt } from "./RetryPolicy.ts"
import { deliveryHeaders } from "./Signing.ts"
import { statusCodeOf, WebhookSender } from "./WebhookSender.ts"

/**
 * Drain permits per attempt permit. An estimate: with two, the attempt
 * permits stay busy while half of the draining subscriptions claim.
 */
export const drainsPerAttemptPermit = 2

/**
 * One attempt of one claimed delivery, in phases: sign the stored body, send
 * it, judge the result against the retry policy and record the attempt.
 */
export class Delivery extends Effect.Service<Delivery>()("saleslab/Delivery", {
  effect: Effect.gen(function*() {
    const store = yield* DeliveryStore
    const sender = yield* WebhookSender
    const now = currentDate(yield* DeliveryClock)
    const { deliveryTimeout, maxAttemptsInFlight } = yield* AppConfig
    /** Claim time, in milliseconds, that must be left when an attempt starts. */
    const latestStart = Duration.toMillis(Duration.sum(deliveryTimeout, recordAllowance))
    // Bounds the attempts in flight on the runner, from the claim check to the
    // record. A stalled endpoint takes at most its subscription's concurrency
    // of these, and each for at most the delivery timeout plus its record, so
    // the other subscriptions keep the rest.
    const attemptPermits = yield* makePermitQueue(maxAttemptsInFlight)
    // Bounds the subscriptions that claim and attempt at once, so that after a
    // sweep over thousands of subscriptions most of them wait as suspended fibers.
    const drainPermits = yield* makePermitQueue(maxAttemptsInFlight * drainsPerAttemptPermit)

    // Tagging a metric builds a new key, which its registry then hashes, so
    // the counter of each event kind and outcome is tagged once.
    const attemptsCounters = new Map<string, typeof webhookAttempts>()
    const attemptsCounter = (eventKind: string, outcome: string) => {
      const key = `${eventKind} ${outcome}`
      let counter = attemptsCounters.get(key)
      if (counter === undefined) {
        counter = webhookAttempts.pipe(Metric.tagged("event_kind", eventKind), Metric.tagged("outcome", outcome))
        attemptsCounters.set(key, counter)
      }
      return counter
    }

    // The tracer's state is read once per attempt, because every phase needs it.
    const attempt = (delivery: ClaimedDelivery) =>
      Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (traced) => runAttempt(delivery, traced))

    const runAttempt = (delivery: ClaimedDelivery, traced: boolean) =>
      Effect.gen(function*() {
        // The spans of every attempt skip `captureStackTrace`, which would
        // allocate an `Error` per span for a source location that is never read.
        const attributes = { "webhook.subscription_id": delivery.subscriptionId, "webhook.delivery_id": delivery.deliveryId }
        const attemptNumber = delivery.attempts + 1
        const ids = { delivery_id: delivery.deliveryId, subscription_id: delivery.subscriptionId }

        // An attempt whose claim would end before it could be sent and
        // recorded is left for a later claim, because another runner may
        // claim the row once this claim ends.
        const startedAt = yield* now
        if (delivery.claimedUntil.getTime() - startedAt.getTime() < latestStart) {
          yield* Effect.logWarning("Delivery claim ends too soon to start the attempt; it is left for a later claim").pipe(
            Effect.annotateLogs(ids)
          )
          return
        }
        const headers = yield* Effect.sync(() => deliveryHeaders(delivery)).pipe(
          withSpanIf(traced, "Delivery.sign", { attributes, captureStackTrace: false })
        )
        const report = yield* sender.send({ url: delivery.url, headers, body: delivery.body }).pipe(
          withSpanIf(traced, "Delivery.send", { attributes, captureStackTrace: false })
        )

        const verdict = judgeAttempt(attemptNumber, report.result)
        const finishedAt = yield* now
        yield* Metric.update(webhookAttemptDuration, report.durationMs / 1000)
        const nextAttemptAt = Option.map(verdict.retryAfter, (delay) => new Date(finishedAt.getTime() + Duration.toMillis(delay)))
        const statusCode = statusCodeOf(report.result)
        const error = Option.map(verdict.error, (failure) => failure.message)
        if (traced) {
          yield* Effect.annotateCurrentSpan("webhook.outcome", verdict.outcome)
          if (Option.isSome(statusCode)) yield* Effect.annotateCurrentSpan("http.response.status_code", statusCode.value)
        }

        const recorded = yield* store.recordAttempt({
          delivery,
          startedAt,
          durationMs: report.durationMs,
          statusCode,
          responseBody: report.result._tag === "Response" ? Option.some(report.result.responseBody) : Option.none(),
          error,
          outcome: verdict.outcome,
          nextAttemptAt
        }).pipe(withSpanIf(traced, "Delivery.record", { attributes, captureStackTrace: false }))

        const annotations = {
          ...ids,
          attempt: attemptNumber,
          outcome: verdict.outcome,
          status_code: Option.getOrNull(statusCode),
          duration_ms: report.durationMs,
          error: Option.getOrNull(error),
          next_attempt_at: Option.getOrNull(Option.map(nextAttemptAt, (at) => at.toISOString()))
        }
        if (recorded) {
          yield* Metric.increment(attemptsCounter(delivery.eventKind, verdict.outcome))
        }
        if (recorded && verdict.outcome === "succeeded") {
          yield* Metric.update(webhookDeliveryLag, Math.max(0, finishedAt.getTime() - delivery.eventAt.getTime()) / 1000)
        }
        if (!recorded) {
          yield* Effect.logWarning("Delivery attempt already recorded by another runner; result dropped").pipe(
            Effect.annotateLogs(annotations)
          )
        } else if (verdict.outcome === "succeeded") {
          // Successes are logged at debug level: at hundreds of deliveries a
          // second, a line each would cost more than the attempt, and the
          // delivery log keeps every attempt.
          yield* logWhenEnabled(LogLevel.Debug, "Delivery attempt finished", annotations)
        } else {
          yield* Effect.logWarning("Delivery attempt finished").pipe(Effect.annotateLogs(annotations))
        }
      }).pipe(
        withSpanIf(traced, "Delivery.attempt", {
          captureStackTrace: false,
          attributes: {
            "webhook.subscription_id": delivery.subscriptionId,
            "webhook.delivery_id": delivery.deliveryId,
            "webhook.event_kind": delivery.eventKind,
            "webhook.attempt": delivery.attempts + 1
          }
        })
      )

    /**
     * Runs one attempt to its end even when the caller is interrupted, such as
     * at shutdown: a request already sent is finished, within the delivery
     * timeout, and recorded. The sender's own timer ends a stalled request,
     * so the attempt needs no interruption.
     */
    const attemptToCompletion = (delivery: ClaimedDelivery) => Effect.uninterruptible(attempt(delivery))

    /**
     * Runs `effect` under one of the runner's
     * `AppConfig.maxAttemptsInFlight` attempt permits, waiting for one first.
     */
    const withAttemptPermit = <A, E, R>(effect: Effect.Effect<A, E, R>) => attemptPermits.withPermit(effect)

    /**
     * Runs a subscription's drain under one of the runner's drain permits,
     * `drainsPerAttemptPermit` per attempt permit, waiting in line for one first.
     */
    const withDrainPermit = <A, E, R>(effect: Effect.Effect<A, E, R>) => drainPermits.withPermit(effect)

    return { attempt, attemptToCompletion, withAttemptPermit, withDrainPermit, latestStart } as const
  })
}) {}
