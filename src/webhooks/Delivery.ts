import { Cause, Duration, Effect, Exit, FiberRef, LogLevel, MetricLabel, Option, Runtime } from "effect"
import type * as Tracer from "effect/Tracer"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookAttemptDuration, webhookAttempts, webhookDeliveryLag } from "../platform/Metrics.ts"
import { makePermitQueue } from "../platform/PermitQueue.ts"
import { DeliveryClock } from "./DeliveryClock.ts"
import { type AttemptRecord, type ClaimedDelivery, DeliveryStore, recordAllowance } from "./DeliveryStore.ts"
import { judgeAttempt } from "./RetryPolicy.ts"
import { deliveryHeaders } from "./Signing.ts"
import { statusCodeOf, WebhookSender } from "./WebhookSender.ts"

/**
 * Drain permits per attempt permit. An estimate: with two, the attempt
 * permits stay busy while half of the draining subscriptions claim.
 */
export const drainsPerAttemptPermit = 2

/**
 * Claim time, in milliseconds, that must be left before the claims of a
 * batch are extended, past what an attempt needs to start: it covers the
 * time from the check to the attempt's own check of its claim.
 */
const leaseCheckMarginMillis = 1_000

/** The phase spans of the attempts of one batch. While the tracer is off, `untraced` makes none. */
interface PhaseSpans {
  /** Starts a span with the delivery's and its subscription's ids, under `parent` or else under the fiber's span. */
  readonly start: (name: string, parent: Tracer.Span | undefined, delivery: ClaimedDelivery) => Tracer.Span | undefined
  readonly end: (span: Tracer.Span | undefined, exit?: Exit.Exit<unknown, unknown>) => void
}

const untraced: PhaseSpans = { start: () => undefined, end: () => {} }

/**
 * Phase spans made with the fiber's tracer, under the fiber's current span,
 * the way `Effect.withSpan` makes them.
 */
const makePhaseSpans = Effect.gen(function*() {
  const tracer = yield* Effect.tracer
  const clock = yield* Effect.clock
  const context = yield* Effect.context<never>()
  const parent = yield* Effect.option(Effect.currentParentSpan)
  return {
    start: (name, under, delivery) => {
      const span = tracer.span(
        name,
        under === undefined ? parent : Option.some(under),
        context,
        [],
        clock.unsafeCurrentTimeNanos(),
        "internal"
      )
      span.attribute("webhook.subscription_id", delivery.subscriptionId)
      span.attribute("webhook.delivery_id", delivery.deliveryId)
      return span
    },
    end: (span, exit = Exit.void) => span?.end(clock.unsafeCurrentTimeNanos(), exit)
  } satisfies PhaseSpans
})

/**
 * The attempts of claimed deliveries, in phases: sign the stored body, send
 * it, judge the result against the retry policy and record the attempt.
 *
 * The attempts of a batch run as plain callbacks inside one effect, not as
 * a fiber each. At thousands of deliveries a second, a fiber per attempt
 * with an effect per phase cost more CPU time than the HTTP request itself.
 */
export class Delivery extends Effect.Service<Delivery>()("saleslab/Delivery", {
  effect: Effect.gen(function*() {
    const store = yield* DeliveryStore
    const sender = yield* WebhookSender
    const clock = yield* DeliveryClock
    const { deliveryTimeout, maxAttemptsInFlight, subscriptionConcurrency } = yield* AppConfig
    /** Claim time, in milliseconds, that must be left when an attempt starts. */
    const latestStart = Duration.toMillis(Duration.sum(deliveryTimeout, recordAllowance))
    // Bounds the attempts in flight on the runner, from the claim check until
    // the response is in. A stalled endpoint takes at most its subscription's
    // concurrency of these, and each for at most the delivery timeout, so the
    // other subscriptions keep the rest. The record that follows holds only
    // its subscription's slot: records share statements, and under load a
    // permit held through the record wait left the requests idle.
    const attemptPermits = yield* makePermitQueue(maxAttemptsInFlight)
    // Bounds the subscriptions that claim and attempt at once, so that after a
    // sweep over thousands of subscriptions most of them wait as suspended fibers.
    const drainPermits = yield* makePermitQueue(maxAttemptsInFlight * drainsPerAttemptPermit)

    // A metric caches its registry entry per array of extra labels, by the
    // array's identity, so the labels of each event kind and outcome are
    // built once. `Metric.tagged` would build a new array on every update,
    // and with it a new key for the registry to hash.
    const attemptLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
    const attemptLabelsOf = (eventKind: string, outcome: string) => {
      const key = `${eventKind} ${outcome}`
      let labels = attemptLabels.get(key)
      if (labels === undefined) {
        labels = [MetricLabel.make("event_kind", eventKind), MetricLabel.make("outcome", outcome)]
        attemptLabels.set(key, labels)
      }
      return labels
    }

    /**
     * Attempts one claimed batch of a subscription in its order, at most
     * `AppConfig.subscriptionConcurrency` at once, each under one of the
     * runner's attempt permits. Before an attempt starts, the claims of the
     * rows not yet started are extended when their lease is about to end,
     * so rows that wait for a permit or for the rows before them stay
     * claimed. No attempt starts once `stopping` returns true.
     *
     * An attempt once started runs to its end, also when the batch is
     * interrupted, such as at shutdown: the sender's own timer ends a
     * stalled request, and the interruption waits for the record. Rows that
     * never started are released, even on interruption.
     */
    const attemptBatch = (batch: ReadonlyArray<ClaimedDelivery>, stopping: () => boolean) =>
      Effect.gen(function*() {
        if (batch.length === 0) return
        const runtime = yield* Effect.runtime<never>()
        const spans = (yield* FiberRef.get(FiberRef.currentTracerEnabled)) ? yield* makePhaseSpans : untraced
        const debugEnabled = LogLevel.greaterThanEqual(LogLevel.Debug, yield* FiberRef.get(FiberRef.currentMinimumLogLevel))
        const run = new BatchRun(batch, stopping, runtime, spans, debugEnabled)
        yield* Effect.async<void>((resume) => {
          run.start((exit) => resume(exit))
          // Interrupted: start nothing more, and wait for the attempts in flight.
          return Effect.async<void>((resumeCancel) => run.halt(() => resumeCancel(Effect.void)))
        }).pipe(
          Effect.ensuring(Effect.suspend(() => store.releaseClaims(run.unstarted())).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError("Releasing unstarted delivery claims failed", cause).pipe(
                Effect.annotateLogs({ subscription_id: batch[0]!.subscriptionId })
              )
            )
          ))
        )
      })

    /** The state of one `attemptBatch`. */
    class BatchRun {
      private next = 0
      private active = 0
      private halted = false
      private failure: Cause.Cause<never> | undefined
      private readonly started = new Set<string>()
      private readonly waits = new Set<{ leave: () => boolean }>()
      private lease: { readonly claimedUntil: Date; readonly kept: ReadonlySet<string> }
      private leaseExtension: Array<() => void> | undefined
      private onIdle: Array<(exit: Exit.Exit<void>) => void> = []

      constructor(
        private readonly batch: ReadonlyArray<ClaimedDelivery>,
        private readonly stopping: () => boolean,
        private readonly runtime: Runtime.Runtime<never>,
        private readonly spans: PhaseSpans,
        private readonly debugEnabled: boolean
      ) {
        this.lease = { claimedUntil: batch[0]!.claimedUntil, kept: new Set(batch.map((claimed) => claimed.pk)) }
      }

      /** Starts the first attempts and calls `done` once every started attempt has ended. */
      start(done: (exit: Exit.Exit<void>) => void) {
        this.onIdle.push(done)
        this.startMore()
        this.settleWhenIdle()
      }

      /** Starts no more attempts, and calls `done` once the attempts in flight have ended. */
      halt(done: () => void) {
        this.stopStarting()
        this.onIdle.push(done)
        this.settleWhenIdle()
      }

      /** Returns the rows that never started and are still claimed, with their current lease. */
      unstarted(): Array<ClaimedDelivery> {
        return this.batch
          .filter((claimed) => !this.started.has(claimed.pk) && this.lease.kept.has(claimed.pk))
          .map((claimed) => ({ ...claimed, claimedUntil: this.lease.claimedUntil }))
      }

      private stopStarting() {
        this.halted = true
        for (const wait of this.waits) {
          if (wait.leave()) {
            this.waits.delete(wait)
            this.active--
          }
        }
      }

      private settleWhenIdle() {
        if (this.active > 0 || (!this.halted && this.next < this.batch.length)) return
        const exit = this.failure === undefined ? Exit.void : Exit.failCause(this.failure)
        const waiting = this.onIdle
        this.onIdle = []
        for (const done of waiting) done(exit)
      }

      private startMore() {
        while (!this.halted && this.active < subscriptionConcurrency && this.next < this.batch.length) {
          const claimed = this.batch[this.next++]!
          this.active++
          const wait = { leave: () => false }
          this.waits.add(wait)
          wait.leave = attemptPermits.unsafeTake(() => {
            this.waits.delete(wait)
            this.begin(claimed)
          })
        }
      }

      /** Ends one attempt slot, whose permit has been given back, and starts the next. */
      private finish(exit: Exit.Exit<void, never>) {
        this.active--
        if (Exit.isFailure(exit)) {
          this.failure = this.failure === undefined ? exit.cause : Cause.sequential(this.failure, exit.cause)
          this.stopStarting()
        }
        this.startMore()
        this.settleWhenIdle()
      }

      /** Returns whether attempts may still start, and stops the starts once the engine is stopping. */
      private mayStart() {
        if (!this.halted && this.stopping()) this.stopStarting()
        return !this.halted
      }

      /** Starts the attempt of a row once its slot holds an attempt permit. */
      private begin(claimed: ClaimedDelivery) {
        let permitHeld = true
        const releasePermit = () => {
          if (!permitHeld) return
          permitHeld = false
          attemptPermits.unsafeRelease()
        }
        let ended = false
        const end = (exit: Exit.Exit<void, never>) => {
          if (ended) return
          ended = true
          releasePermit()
          this.finish(exit)
        }
        if (!this.mayStart()) {
          end(Exit.void)
          return
        }
        this.withCurrentLease((kept) => {
          // Checked again, because the check of the lease may have waited for an extension.
          if (!this.mayStart()) {
            end(Exit.void)
            return
          }
          const ids = { delivery_id: claimed.deliveryId, subscription_id: claimed.subscriptionId }
          if (!kept.has(claimed.pk)) {
            this.log(LogLevel.Warning, "Delivery claim was lost before its attempt; another runner has the row", ids)
            end(Exit.void)
            return
          }
          // An attempt whose claim would end before it could be sent and
          // recorded is left for a later claim, because another runner may
          // claim the row once this claim ends. The row is released with the
          // others that never started.
          const claimedUntil = this.lease.claimedUntil
          if (claimedUntil.getTime() - clock.unsafeCurrentTimeMillis() < latestStart) {
            this.log(LogLevel.Warning, "Delivery claim ends too soon to start the attempt; it is left for a later claim", ids)
            end(Exit.void)
            return
          }
          this.started.add(claimed.pk)
          try {
            this.attempt({ ...claimed, claimedUntil }, releasePermit, end)
          } catch (error) {
            end(Exit.die(error))
          }
        }, (cause) => end(Exit.failCause(cause)))
      }

      /**
       * Calls `use` with the rows still claimed, once the lease of the rows
       * not yet started has enough time left, extending it first when it
       * has not. One extension runs at a time, and the checks that arrive
       * meanwhile wait for it. Once no attempt may start, `use` gets the
       * current lease at once, because it starts nothing then.
       */
      private withCurrentLease(use: (kept: ReadonlySet<string>) => void, fail: (cause: Cause.Cause<never>) => void) {
        if (this.halted) {
          use(this.lease.kept)
          return
        }
        if (this.leaseExtension !== undefined) {
          this.leaseExtension.push(() => this.withCurrentLease(use, fail))
          return
        }
        const left = this.lease.claimedUntil.getTime() - clock.unsafeCurrentTimeMillis()
        if (left >= latestStart + leaseCheckMarginMillis) {
          use(this.lease.kept)
          return
        }
        const waiting = this.batch.filter((row) => !this.started.has(row.pk) && this.lease.kept.has(row.pk))
        const queued: Array<() => void> = []
        this.leaseExtension = queued
        const extension = store.extendClaims(waiting, this.lease.claimedUntil, latestStart + leaseCheckMarginMillis)
        Runtime.runCallback(this.runtime)(extension, {
          onExit: (exit) => {
            this.leaseExtension = undefined
            // The checks that waited run whatever `use` or `fail` do, so that no slot is left waiting.
            try {
              if (Exit.isSuccess(exit)) {
                this.lease = exit.value
                use(this.lease.kept)
              } else {
                fail(exit.cause)
              }
            } finally {
              for (const check of queued) check()
            }
          }
        })
      }

      /**
       * Runs one attempt of a row whose claim has the time for it, calls
       * `onResponse` once the response is in, and `onEnd` once the attempt
       * is recorded.
       */
      private attempt(delivery: ClaimedDelivery, onResponse: () => void, onEnd: (exit: Exit.Exit<void>) => void) {
        const startedAt = clock.unsafeCurrentTimeMillis()
        const attemptSpan = this.spans.start("Delivery.attempt", undefined, delivery)
        attemptSpan?.attribute("webhook.event_kind", delivery.eventKind)
        attemptSpan?.attribute("webhook.attempt", delivery.attempts + 1)
        let ended = false
        const end = (exit: Exit.Exit<void>) => {
          if (ended) return
          ended = true
          this.spans.end(attemptSpan, exit)
          onEnd(exit)
        }

        const signSpan = this.spans.start("Delivery.sign", attemptSpan, delivery)
        const headers = deliveryHeaders(delivery)
        this.spans.end(signSpan)
        const sendSpan = this.spans.start("Delivery.send", attemptSpan, delivery)
        sender.send({ url: delivery.url, headers, body: delivery.body }).then((report) => {
          onResponse()
          this.spans.end(sendSpan)
          const verdict = judgeAttempt(delivery.attempts + 1, report.result)
          const finishedAt = clock.unsafeCurrentTimeMillis()
          webhookAttemptDuration.unsafeUpdate(report.durationMs / 1000, [])
          const record: AttemptRecord = {
            delivery,
            startedAt: new Date(startedAt),
            durationMs: report.durationMs,
            statusCode: statusCodeOf(report.result),
            responseBody: report.result._tag === "Response" ? Option.some(report.result.responseBody) : Option.none(),
            error: Option.map(verdict.error, (failure) => failure.message),
            outcome: verdict.outcome,
            nextAttemptAt: Option.map(verdict.retryAfter, (delay) => new Date(finishedAt + Duration.toMillis(delay)))
          }
          attemptSpan?.attribute("webhook.outcome", record.outcome)
          if (Option.isSome(record.statusCode)) attemptSpan?.attribute("http.response.status_code", record.statusCode.value)

          const recordSpan = this.spans.start("Delivery.record", attemptSpan, delivery)
          store.unsafeRecordAttempt(record, (recorded) => {
            this.spans.end(recordSpan, recorded)
            // This runs on the record batcher's fiber, so nothing may escape it.
            try {
              if (Exit.isSuccess(recorded)) this.reportRecorded(record, finishedAt, recorded.value)
              end(Exit.isSuccess(recorded) ? Exit.void : Exit.die(Cause.squash(recorded.cause)))
            } catch (error) {
              end(Exit.die(error))
            }
          })
        }).catch((error: unknown) => end(Exit.die(error)))
      }

      /** Counts and logs a finished attempt. `recorded` is false when another runner had recorded it. */
      private reportRecorded(record: AttemptRecord, finishedAt: number, recorded: boolean) {
        const { delivery } = record
        const annotations = () => ({
          delivery_id: delivery.deliveryId,
          subscription_id: delivery.subscriptionId,
          attempt: delivery.attempts + 1,
          outcome: record.outcome,
          status_code: Option.getOrNull(record.statusCode),
          duration_ms: record.durationMs,
          error: Option.getOrNull(record.error),
          next_attempt_at: Option.getOrNull(Option.map(record.nextAttemptAt, (at) => at.toISOString()))
        })
        if (!recorded) {
          this.log(LogLevel.Warning, "Delivery attempt already recorded by another runner; result dropped", annotations())
          return
        }
        webhookAttempts.unsafeUpdate(1, attemptLabelsOf(delivery.eventKind, record.outcome))
        if (record.outcome !== "succeeded") {
          this.log(LogLevel.Warning, "Delivery attempt finished", annotations())
          return
        }
        webhookDeliveryLag.unsafeUpdate(Math.max(0, finishedAt - delivery.eventAt.getTime()) / 1000, [])
        // Successes are logged at debug level: at hundreds of deliveries a
        // second, a line each would cost more than the attempt, and the
        // delivery log keeps every attempt.
        if (this.debugEnabled) this.log(LogLevel.Debug, "Delivery attempt finished", annotations())
      }

      /** Writes a log line with the runtime of the batch's fiber, in a fiber of its own. */
      private log(level: LogLevel.LogLevel, message: string, annotations: Record<string, unknown>) {
        Runtime.runFork(this.runtime)(Effect.logWithLevel(level, message).pipe(Effect.annotateLogs(annotations)))
      }
    }

    /**
     * Runs a subscription's drain under one of the runner's drain permits,
     * `drainsPerAttemptPermit` per attempt permit, waiting in line for one first.
     */
    const withDrainPermit = <A, E, R>(effect: Effect.Effect<A, E, R>) => drainPermits.withPermit(effect)

    return { attemptBatch, withDrainPermit, latestStart } as const
  })
}) {}
