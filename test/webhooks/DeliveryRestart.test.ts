import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { Receiver, respond } from "../support/Receiver.ts"
import { ClockOffsetLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { attemptRows, awaitDelivery, createSubscription, queueDelivery, TestEngineLive, testSettings } from "./DeliveryFixtures.ts"

// One delivery in flight at a time, and a 3 second timeout so a slow response still succeeds.
const SettingsLive = testSettings({ subscriptionConcurrency: 1, deliveryTimeout: Duration.seconds(3) })

const SuiteLive = Layer.mergeAll(Outbox.Default, ClockOffsetLive, Receiver.layer).pipe(
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(SettingsLive)
)

/** Starts an engine in a scope of its own, so the test can stop it like a process that shuts down. */
const startEngine = Effect.gen(function*() {
  const scope = yield* Scope.make()
  yield* Layer.buildWithScope(TestEngineLive, scope)
  return scope
})

layer(SuiteLive, { excludeTestServices: true, timeout: "90 seconds" })("DeliveryEngine restart", (it) => {
  it.effect("new process delivers what a stopped one left", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      yield* receiver.setFallback(respond(200, "ok", 700))
      const subscription = yield* createSubscription(`${receiver.url}/hook`)

      const first = yield* startEngine
      const deliveryIds = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, index) => index),
        (index) => queueDelivery(subscription, { index })
      )
      yield* receiver.awaitRequests(1)
      yield* Scope.close(first, Exit.void)

      // The attempt in flight at shutdown finished and was recorded; the rest were released.
      const [stopped] = yield* sql<{ attempted: number; claimed: number; pending: number }>`
        SELECT count(*) FILTER (WHERE attempts > 0)::int AS attempted,
          count(*) FILTER (WHERE claimed_until IS NOT NULL)::int AS claimed,
          count(*) FILTER (WHERE status = 'pending')::int AS pending
        FROM webhook_deliveries WHERE subscription_id = ${subscription.subscriptionId}`
      const sentBeforeStop = (yield* receiver.requests).length
      expect(stopped!.attempted).toBe(sentBeforeStop)
      expect(stopped!.claimed).toBe(0)
      expect(stopped!.pending).toBe(8 - sentBeforeStop)
      expect(stopped!.pending).toBeGreaterThan(0)

      const second = yield* startEngine
      for (const deliveryId of deliveryIds) {
        yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "30 seconds")
      }
      yield* Scope.close(second, Exit.void)

      const received = (yield* receiver.requests).map((request) => request.headers["x-saleslab-delivery-id"])
      expect(received.length).toBe(8)
      expect(new Set(received)).toEqual(new Set(deliveryIds))
      for (const deliveryId of deliveryIds) {
        const attempts = yield* attemptRows(deliveryId)
        expect(attempts.map((attempt) => attempt.outcome)).toEqual(["succeeded"])
      }
    }))
})
