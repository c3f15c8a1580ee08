import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import { type ClaimedDelivery, DeliveryStore } from "../../src/webhooks/DeliveryStore.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { ClockOffset, ClockOffsetLive, ShiftedClockLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { attemptRows, createSubscription, deliveryRow, queueDelivery, testSettings } from "./DeliveryFixtures.ts"

const SuiteLive = DeliveryStore.Default.pipe(
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ShiftedClockLive),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings())
)

/** Marks claimed deliveries as sent and ends their claims, as recording a successful attempt does. */
const markSucceeded = (batch: ReadonlyArray<ClaimedDelivery>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    batch.length === 0 ? Effect.void : sql`
      UPDATE webhook_deliveries SET status = 'succeeded', claimed_until = NULL, next_attempt_at = NULL
      WHERE id IN ${sql.in(batch.map((delivery) => delivery.pk))}`.pipe(Effect.asVoid, Effect.orDie))

const queueMany = (subscription: { companyId: string; subscriptionId: string }, count: number) =>
  Effect.forEach(Array.from({ length: count }, (_, index) => index), (index) => queueDelivery(subscription, { index }))

layer(SuiteLive, { excludeTestServices: true })("DeliveryStore", (it) => {
  it.effect("claims due rows 50 at a time in order", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* queueMany(subscription, 120)

      // Each batch is finished before the next claim, as a drain does.
      const claimAndRecord = Effect.tap(store.claimDue(subscription.subscriptionId), markSucceeded)
      const first = yield* claimAndRecord
      const second = yield* claimAndRecord
      const third = yield* claimAndRecord
      const fourth = yield* claimAndRecord
      expect([first.length, second.length, third.length, fourth.length]).toEqual([50, 50, 20, 0])
      const claimedIds = [...first, ...second, ...third].map((claimed) => claimed.deliveryId)
      expect(claimedIds).toEqual(deliveryIds)
      expect(first[0]!.secret).toBe(subscription.secret)
      expect(first[0]!.attempts).toBe(0)
    }))

  it.effect("claim expires after the lease", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const [deliveryId] = yield* queueMany(subscription, 1)

      expect((yield* store.claimDue(subscription.subscriptionId)).length).toBe(1)
      const claimed = yield* deliveryRow(deliveryId!)
      expect(claimed.claimed_until).not.toBeNull()
      // The test timeout is 1 second, so the lease is 11 seconds.
      yield* ClockOffset.advance("10 seconds")
      expect((yield* store.claimDue(subscription.subscriptionId)).length).toBe(0)
      yield* ClockOffset.advance("2 seconds")
      expect((yield* store.claimDue(subscription.subscriptionId)).length).toBe(1)
    }))

  it.effect("released claims are due again at once", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      yield* queueMany(subscription, 3)

      const claimed = yield* store.claimDue(subscription.subscriptionId)
      expect(yield* store.subscriptionsWithDueDeliveries).not.toContain(subscription.subscriptionId)
      yield* store.releaseClaims(claimed)
      expect(yield* store.subscriptionsWithDueDeliveries).toContain(subscription.subscriptionId)
      const again = yield* store.claimDue(subscription.subscriptionId)
      expect(again.map((row) => row.deliveryId)).toEqual(claimed.map((row) => row.deliveryId))
    }))

  it.effect("claim stops at a live claim", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* queueMany(subscription, 4)

      // The second row stays claimed, as a runner that died mid-batch leaves it.
      const [first, second] = yield* store.claimDue(subscription.subscriptionId, 2)
      yield* store.releaseClaims([first!])
      const beforeSecond = yield* store.claimDue(subscription.subscriptionId)
      expect(beforeSecond.map((row) => row.deliveryId)).toEqual([deliveryIds[0]])

      yield* store.releaseClaims([...beforeSecond, second!])
      const all = yield* store.claimDue(subscription.subscriptionId)
      expect(all.map((row) => row.deliveryId)).toEqual(deliveryIds)
    }))

  it.effect("claim passes an expired claim", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* queueMany(subscription, 3)

      yield* store.claimDue(subscription.subscriptionId, 1)
      expect(yield* store.claimDue(subscription.subscriptionId)).toEqual([])
      // The test timeout is 1 second, so the lease is 11 seconds.
      yield* ClockOffset.advance("12 seconds")
      const all = yield* store.claimDue(subscription.subscriptionId)
      expect(all.map((row) => row.deliveryId)).toEqual(deliveryIds)
    }))

  it.effect("late release keeps a later claim", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const [deliveryId] = yield* queueMany(subscription, 1)

      const first = yield* store.claimDue(subscription.subscriptionId)
      // The first claim expires and another drain claims the row again.
      yield* ClockOffset.advance("12 seconds")
      const second = yield* store.claimDue(subscription.subscriptionId)
      expect(second.length).toBe(1)

      yield* store.releaseClaims(first)
      const row = yield* deliveryRow(deliveryId!)
      expect(row.claimed_until?.getTime()).toBe(second[0]!.claimedUntil.getTime())
      expect(yield* store.subscriptionsWithDueDeliveries).not.toContain(subscription.subscriptionId)
    }))

  it.effect("paused and deleted subscriptions are not due", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* DeliveryStore
      const paused = yield* createSubscription("http://127.0.0.1:1/unused")
      const deleted = yield* createSubscription("http://127.0.0.1:1/unused")
      yield* queueMany(paused, 2)
      yield* queueMany(deleted, 2)
      yield* sql`UPDATE webhook_subscriptions SET status = 'paused' WHERE id = ${paused.subscriptionId}`
      yield* sql`UPDATE webhook_subscriptions SET deleted_at = now() WHERE id = ${deleted.subscriptionId}`

      expect((yield* store.claimDue(paused.subscriptionId)).length).toBe(0)
      expect((yield* store.claimDue(deleted.subscriptionId)).length).toBe(0)
      const due = yield* store.subscriptionsWithDueDeliveries
      expect(due).not.toContain(paused.subscriptionId)
      expect(due).not.toContain(deleted.subscriptionId)
    }))

  it.effect("records a retry with its next due time", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const [deliveryId] = yield* queueMany(subscription, 1)
      const [claimed] = yield* store.claimDue(subscription.subscriptionId)
      const nextAttemptAt = new Date(Date.now() + Duration.toMillis("1 hour"))

      const recorded = yield* store.recordAttempt({
        delivery: claimed!,
        startedAt: new Date(),
        durationMs: 12,
        statusCode: Option.some(503),
        responseBody: Option.some("down"),
        error: Option.some("The endpoint answered 503."),
        outcome: "retry",
        nextAttemptAt: Option.some(nextAttemptAt)
      })
      expect(recorded).toBe(true)
      const row = yield* deliveryRow(deliveryId!)
      expect(row.status).toBe("pending")
      expect(row.attempts).toBe(1)
      expect(row.last_status_code).toBe(503)
      expect(row.claimed_until).toBeNull()
      expect(row.next_attempt_at!.getTime()).toBe(nextAttemptAt.getTime())
      const attempts = yield* attemptRows(deliveryId!)
      expect(attempts).toMatchObject([{ attempt: 1, duration_ms: 12, status_code: 503, outcome: "retry" }])
      expect((yield* store.claimDue(subscription.subscriptionId)).length).toBe(0)

      // Recording the same attempt twice changes nothing.
      const repeated = yield* store.recordAttempt({
        delivery: claimed!,
        startedAt: new Date(),
        durationMs: 5,
        statusCode: Option.some(200),
        responseBody: Option.some("ok"),
        error: Option.none(),
        outcome: "succeeded",
        nextAttemptAt: Option.none()
      })
      expect(repeated).toBe(false)
      expect((yield* deliveryRow(deliveryId!)).status).toBe("pending")
      expect((yield* attemptRows(deliveryId!)).length).toBe(1)
    }))

  it.effect("records success with delivered_at", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const [deliveryId] = yield* queueMany(subscription, 1)
      const [claimed] = yield* store.claimDue(subscription.subscriptionId)

      yield* store.recordAttempt({
        delivery: claimed!,
        startedAt: new Date(),
        durationMs: 3,
        statusCode: Option.some(204),
        responseBody: Option.some(""),
        error: Option.none(),
        outcome: "succeeded",
        nextAttemptAt: Option.none()
      })
      const row = yield* deliveryRow(deliveryId!)
      expect(row.status).toBe("succeeded")
      expect(row.delivered_at).not.toBeNull()
      expect(row.next_attempt_at).toBeNull()
      expect(row.last_error).toBeNull()
    }))

  it.effect("concurrent claims get their own rows", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscriptions = yield* Effect.forEach([1, 2, 3], () => createSubscription("http://127.0.0.1:1/unused"))
      const queued = yield* Effect.forEach(subscriptions, (subscription) => queueMany(subscription, 60))

      // Two requests for the first subscription and one for each other, all at once.
      const requests = [subscriptions[0]!, subscriptions[0]!, subscriptions[1]!, subscriptions[2]!]
      const claims = yield* Effect.forEach(requests, (subscription) => store.claimDue(subscription.subscriptionId), {
        concurrency: "unbounded"
      })

      // The repeated request comes after the first one's claims, which it may not pass.
      const firstSubscriptionIds = [...claims[0]!, ...claims[1]!].map((claimed) => claimed.deliveryId)
      expect([claims[0]!.length, claims[1]!.length].sort((a, b) => a - b)).toEqual([0, 50])
      expect(firstSubscriptionIds).toEqual(queued[0]!.slice(0, 50))
      expect(claims[2]!.map((claimed) => claimed.deliveryId)).toEqual(queued[1]!.slice(0, 50))
      expect(claims[3]!.map((claimed) => claimed.deliveryId)).toEqual(queued[2]!.slice(0, 50))
      for (const [index, claim] of claims.entries()) {
        for (const claimed of claim) expect(claimed.subscriptionId).toBe(requests[index]!.subscriptionId)
      }
    }))

  it.effect("concurrent records skip only stale ones", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* queueMany(subscription, 5)
      const claimed = yield* store.claimDue(subscription.subscriptionId)
      const succeeded = (delivery: (typeof claimed)[number]) =>
        store.recordAttempt({
          delivery,
          startedAt: new Date(),
          durationMs: 4,
          statusCode: Option.some(200),
          responseBody: Option.some("ok"),
          error: Option.none(),
          outcome: "succeeded",
          nextAttemptAt: Option.none()
        })
      // The first delivery's attempt is recorded before the batch, which makes its second record stale.
      expect(yield* succeeded(claimed[0]!)).toBe(true)

      const results = yield* Effect.forEach(claimed, succeeded, { concurrency: "unbounded" })

      expect(results).toEqual([false, true, true, true, true])
      for (const deliveryId of deliveryIds) {
        expect((yield* deliveryRow(deliveryId)).status).toBe("succeeded")
        expect((yield* attemptRows(deliveryId)).length).toBe(1)
      }
    }))

  it.effect("claims leave rows on their page", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* DeliveryStore
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      // Rows of about 1 KB, as real events are, so that a full page holds only a few.
      const deliveryIds = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, index) => index),
        (index) => queueDelivery(subscription, { index, padding: "x".repeat(800) })
      )
      const pagesOf = () =>
        sql<{ delivery_id: string; page: string }>`
          SELECT delivery_id, (ctid::text::point)[0]::text AS page
          FROM webhook_deliveries WHERE delivery_id IN ${sql.in(deliveryIds)}
          ORDER BY delivery_id`.pipe(Effect.orDie)
      const before = yield* pagesOf()

      expect((yield* store.claimDue(subscription.subscriptionId)).length).toBe(40)

      // A claim changes no indexed column, so a row version that stays on its
      // page is a heap-only update, which adds no index entries.
      expect(yield* pagesOf()).toEqual(before)
    }))
})
