import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Option, Ref } from "effect"
import { Conflict } from "../../src/ApiErrors.ts"
import { DeliveryLog } from "../../src/webhooks/DeliveryLog.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { retryDelay } from "../../src/webhooks/RetryPolicy.ts"
import { Subscriptions } from "../../src/webhooks/Subscriptions.ts"
import { Sweeper } from "../../src/webhooks/Sweeper.ts"
import { Receiver, redirect, reset, respond, stall } from "../support/Receiver.ts"
import { ClockOffset, ClockOffsetLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import {
  attemptRows,
  awaitDelivery,
  createSubscription,
  deliveryRow,
  queueDelivery,
  TestEngineLive,
  testSettings,
  verifyLikeReference
} from "./DeliveryFixtures.ts"

const SuiteLive = TestEngineLive.pipe(
  Layer.provideMerge(DeliveryLog.Default),
  Layer.provideMerge(Subscriptions.Default),
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings())
)

/** Moves the engine's clock forward and runs one sweep, as the periodic sweeper would. */
const advanceAndSweep = (duration: Duration.DurationInput) =>
  Effect.gen(function*() {
    yield* ClockOffset.advance(duration)
    const sweeper = yield* Sweeper
    yield* sweeper.sweep
  })

/** Headers that Node's fetch adds to every request on its own. */
const fetchTransportHeaders = new Set([
  "host",
  "connection",
  "content-length",
  "accept",
  "accept-language",
  "accept-encoding",
  "sec-fetch-mode"
])

/** The engine's current time: real time plus the offset. */
const engineNow = Effect.map(Effect.flatMap(ClockOffset, Ref.get), (offset) => Date.now() + offset)

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("DeliveryEngine", (it) => {
  it.effect("delivers with exact headers and signature", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription, { note: "naïve café ✓" })

      const [request] = yield* receiver.awaitRequests(1)
      const row = yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      expect(request!.method).toBe("POST")
      expect(request!.path).toBe("/hook")
      expect(request!.body.equals(Buffer.from(row.body, "utf8"))).toBe(true)
      expect(request!.headers["content-type"]).toBe("application/json")
      expect(request!.headers["user-agent"]).toBe("sales-lab-webhooks/1")
      expect(request!.headers["x-saleslab-event"]).toBe("session.scorecard_finalized")
      expect(request!.headers["x-saleslab-delivery-id"]).toBe(deliveryId)
      expect(request!.headers["traceparent"]).toBeUndefined()
      const applicationHeaders = Object.keys(request!.headers).filter((name) => !fetchTransportHeaders.has(name))
      expect(applicationHeaders.sort()).toEqual([
        "content-type",
        "user-agent",
        "x-saleslab-delivery-id",
        "x-saleslab-event",
        "x-saleslab-signature"
      ])
      const signature = request!.headers["x-saleslab-signature"] as string
      expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/)
      expect(verifyLikeReference(subscription.secret, request!.body.toString("utf8"), signature)).toBe(true)
      expect(row.attempts).toBe(1)
      expect(row.delivered_at).not.toBeNull()
      expect(row.claimed_until).toBeNull()

      const attempts = yield* attemptRows(deliveryId)
      expect(attempts.map((attempt) => attempt.outcome)).toEqual(["succeeded"])
      expect(attempts[0]!.status_code).toBe(200)
      expect(attempts[0]!.response_body).toBe("ok")
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("500 then 200 retries a minute later", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(respond(500, "temporarily broken"))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      const pending = yield* awaitDelivery(deliveryId, (row) => row.attempts === 1)
      const recordedAt = yield* engineNow
      expect(pending.status).toBe("pending")
      expect(pending.last_status_code).toBe(500)
      expect(pending.claimed_until).toBeNull()
      const untilRetry = pending.next_attempt_at!.getTime() - recordedAt
      expect(untilRetry).toBeGreaterThan(55_000)
      expect(untilRetry).toBeLessThanOrEqual(60_000)
      const [first] = yield* attemptRows(deliveryId)
      expect(first!.outcome).toBe("retry")
      expect(first!.status_code).toBe(500)
      expect(first!.response_body).toBe("temporarily broken")
      expect(first!.error).toContain("500")

      // Not due yet: a sweep now sends nothing.
      yield* advanceAndSweep("30 seconds")
      yield* Effect.sleep("300 millis")
      expect((yield* receiver.requests).length).toBe(1)

      yield* advanceAndSweep("31 seconds")
      const delivered = yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      expect(delivered.attempts).toBe(2)
      const requests = yield* receiver.requests
      expect(requests.length).toBe(2)
      expect(requests[1]!.body.equals(requests[0]!.body)).toBe(true)
      expect(requests[1]!.headers["x-saleslab-signature"]).toBe(requests[0]!.headers["x-saleslab-signature"])
      expect(requests[1]!.headers["x-saleslab-delivery-id"]).toBe(deliveryId)
      const attempts = yield* attemptRows(deliveryId)
      expect(attempts.map((attempt) => attempt.outcome)).toEqual(["retry", "succeeded"])
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("400 fails at once without retry", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(respond(400, "bad payload"))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      const failed = yield* awaitDelivery(deliveryId, (row) => row.status === "failed")
      expect(failed.attempts).toBe(1)
      expect(failed.last_status_code).toBe(400)
      expect(failed.next_attempt_at).toBeNull()
      expect(failed.delivered_at).toBeNull()
      const [attempt] = yield* attemptRows(deliveryId)
      expect(attempt!.outcome).toBe("failed")
      expect(attempt!.error).toContain("not retried")

      yield* advanceAndSweep("9 hours")
      yield* Effect.sleep("300 millis")
      expect((yield* receiver.requests).length).toBe(1)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("concurrent manual retries deliver without a sweep", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const log = yield* DeliveryLog
      yield* receiver.enqueue(respond(400, "bad payload"))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)
      yield* awaitDelivery(deliveryId, (row) => row.status === "failed")

      // The requests that lose the race must not keep the row locked, or the
      // claim skips it and the delivery waits for the hourly sweep.
      const retry = log.retry(subscription.companyId, subscription.subscriptionId, deliveryId)
      const exits = yield* Effect.all(Array.from({ length: 5 }, () => Effect.exit(retry)), { concurrency: "unbounded" })
      expect(exits.filter(Exit.isSuccess)).toHaveLength(1)
      for (const exit of exits.filter(Exit.isFailure)) {
        const conflict = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(conflict).toBeInstanceOf(Conflict)
      }

      const delivered = yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "10 seconds")
      expect(delivered.attempts).toBe(2)
      expect((yield* receiver.requests).length).toBe(2)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("3xx fails without following Location", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(redirect(301, `${receiver.url}/moved`))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      const failed = yield* awaitDelivery(deliveryId, (row) => row.status === "failed")
      expect(failed.attempts).toBe(1)
      expect(failed.last_status_code).toBe(301)
      expect(failed.last_error).toContain(`${receiver.url}/moved`)
      expect(failed.last_error).toContain("update the subscription URL")
      yield* Effect.sleep("300 millis")
      const requests = yield* receiver.requests
      expect(requests.map((request) => request.path)).toEqual(["/hook"])
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("stalled endpoint times out and retries", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(stall)
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      const pending = yield* awaitDelivery(deliveryId, (row) => row.attempts === 1)
      expect(pending.status).toBe("pending")
      expect(pending.last_status_code).toBeNull()
      expect(pending.next_attempt_at).not.toBeNull()
      const [attempt] = yield* attemptRows(deliveryId)
      expect(attempt!.outcome).toBe("retry")
      expect(attempt!.error).toContain("did not complete its response within 1000 ms")
      expect(attempt!.duration_ms).toBeGreaterThanOrEqual(950)
      expect(attempt!.duration_ms).toBeLessThan(3000)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("connection reset retries", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(reset)
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      const pending = yield* awaitDelivery(deliveryId, (row) => row.attempts === 1)
      expect(pending.status).toBe("pending")
      const [attempt] = yield* attemptRows(deliveryId)
      expect(attempt!.outcome).toBe("retry")
      expect(attempt!.status_code).toBeNull()
      expect(attempt!.error).toContain("before a complete response")

      yield* advanceAndSweep("61 seconds")
      const delivered = yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      expect(delivered.attempts).toBe(2)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("gives up after the sixth failed attempt", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.setFallback(respond(503, "down"))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = yield* queueDelivery(subscription)

      for (let attempt = 1; attempt <= 5; attempt++) {
        const row = yield* awaitDelivery(deliveryId, (row) => row.attempts === attempt)
        expect(row.status).toBe("pending")
        const delay = Option.getOrThrow(retryDelay(attempt))
        yield* advanceAndSweep(Duration.sum(delay, "1 second"))
      }
      const failed = yield* awaitDelivery(deliveryId, (row) => row.status === "failed")
      expect(failed.attempts).toBe(6)
      expect(failed.next_attempt_at).toBeNull()
      const attempts = yield* attemptRows(deliveryId)
      expect(attempts.map((attempt) => attempt.outcome)).toEqual(["retry", "retry", "retry", "retry", "retry", "failed"])

      yield* advanceAndSweep("1 day")
      yield* Effect.sleep("300 millis")
      expect((yield* receiver.requests).length).toBe(6)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("drains 120 deliveries exactly once", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryIds = yield* Effect.forEach(
        Array.from({ length: 120 }, (_, index) => index),
        (index) => queueDelivery(subscription, { index })
      )

      const requests = yield* receiver.awaitRequests(120, "30 seconds")
      // Attempts are recorded after the response, in batches, so the last records can trail the requests.
      for (const deliveryId of deliveryIds) yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      const received = (yield* receiver.requests).map((request) => request.headers["x-saleslab-delivery-id"])
      expect(requests.length).toBe(120)
      expect(received.length).toBe(120)
      expect(new Set(received)).toEqual(new Set(deliveryIds))
      const sql = yield* SqlClient.SqlClient
      const [counts] = yield* sql<{ succeeded: number; attempts: number }>`
        SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded, sum(attempts)::int AS attempts
        FROM webhook_deliveries WHERE subscription_id = ${subscription.subscriptionId}`
      expect(counts).toEqual({ succeeded: 120, attempts: 120 })
      // Wake-ups are not persisted, so the cluster's message table stays empty.
      const [stored] = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM cluster_messages`
      expect(stored!.count).toBe(0)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("paused subscription holds deliveries until resumed", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const outbox = yield* Outbox
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      yield* sql`UPDATE webhook_subscriptions SET status = 'paused' WHERE id = ${subscription.subscriptionId}`
      const deliveryId = yield* queueDelivery(subscription)

      yield* advanceAndSweep("1 second")
      yield* Effect.sleep("500 millis")
      expect((yield* receiver.requests).length).toBe(0)
      const paused = yield* deliveryRow(deliveryId)
      expect(paused.status).toBe("pending")
      expect(paused.attempts).toBe(0)

      yield* sql`UPDATE webhook_subscriptions SET status = 'active' WHERE id = ${subscription.subscriptionId}`
      yield* outbox.wake(subscription.subscriptionId)
      yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      expect((yield* receiver.requests).length).toBe(1)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("pause stops the claimed batch", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const subscriptions = yield* Subscriptions
      // Each response takes 200 ms, so 4 at a time the batch of 30 takes 1.5 s.
      yield* receiver.setFallback(respond(200, "ok", 200))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryIds = yield* Effect.forEach(Array.from({ length: 30 }, (_, index) => index), (index) =>
        queueDelivery(subscription, { index }))
      yield* receiver.awaitRequests(4)

      yield* subscriptions.update(subscription.companyId, subscription.subscriptionId, { status: "paused" })
      const atPause = (yield* receiver.requests).length
      yield* Effect.sleep("1500 millis")

      // Only the attempts in flight at the pause, at most the subscription's 4, still arrive.
      const sent = (yield* receiver.requests).length
      expect(sent - atPause).toBeLessThanOrEqual(4)
      const rows = yield* Effect.forEach(deliveryIds, deliveryRow)
      const pending = rows.filter((row) => row.status === "pending")
      expect(pending.length).toBe(30 - sent)
      expect(pending.every((row) => row.claimed_until === null && row.attempts === 0)).toBe(true)
    }).pipe(Effect.provide(Receiver.layer)))

  it.effect("deleted subscription's cancelled deliveries are never sent", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const outbox = yield* Outbox
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      yield* sql`UPDATE webhook_subscriptions SET status = 'paused' WHERE id = ${subscription.subscriptionId}`
      const deliveryIds = yield* Effect.forEach([1, 2, 3], (index) => queueDelivery(subscription, { index }))

      yield* sql`
        UPDATE webhook_subscriptions SET status = 'active', deleted_at = now()
        WHERE id = ${subscription.subscriptionId}`
      expect(yield* outbox.cancelPending(subscription.subscriptionId)).toBe(3)
      yield* outbox.wake(subscription.subscriptionId)
      yield* advanceAndSweep("1 second")
      yield* Effect.sleep("500 millis")

      expect((yield* receiver.requests).length).toBe(0)
      for (const deliveryId of deliveryIds) {
        const row = yield* deliveryRow(deliveryId)
        expect(row.status).toBe("cancelled")
        expect(row.attempts).toBe(0)
      }
    }).pipe(Effect.provide(Receiver.layer)))
})
