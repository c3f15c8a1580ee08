import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { makeDeliveryEngine } from "../../src/webhooks/DeliveryEngine.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { type OutboundRequest, WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { ClockOffset, ClockOffsetLive, ShiftedClockLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { attemptRows, awaitDelivery, createSubscription, queueDelivery, testSettings } from "./DeliveryFixtures.ts"

/** Requests the slow sender received, in order. */
const sentRequests: Array<OutboundRequest> = []

/**
 * A sender whose every request takes 3 seconds of the engine's clock: it
 * moves the shifted clock forward instead of waiting, and returns 200.
 */
const SlowSenderLive = Layer.effect(
  WebhookSender,
  Effect.map(ClockOffset, (offset) => ({
    send: (request: OutboundRequest) => {
      sentRequests.push(request)
      Effect.runSync(Ref.update(offset, (millis) => millis + 3_000))
      return Promise.resolve({
        result: { _tag: "Response" as const, statusCode: 200, location: undefined, responseBody: "ok" },
        durationMs: 3_000
      })
    }
  }))
)

// With the 1 second test timeout a claim lasts 11 s, and an attempt needs
// 4 s of it left, so one at a time the fourth row of a batch would start
// too late without an extended claim.
const SuiteLive = makeDeliveryEngine({ clock: ShiftedClockLive, sender: SlowSenderLive }).pipe(
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings({ subscriptionConcurrency: 1 }))
)

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("Claim lease", (it) => {
  it.effect("long batch extends its claims", () =>
    Effect.gen(function*() {
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* Effect.forEach([0, 1, 2, 3, 4, 5], (index) => queueDelivery(subscription, { index }))

      for (const deliveryId of deliveryIds) {
        yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "20 seconds")
      }

      const sentIds = sentRequests.map((request) => request.headers["x-saleslab-delivery-id"])
      expect(sentIds).toEqual(deliveryIds)
      for (const deliveryId of deliveryIds) {
        expect((yield* attemptRows(deliveryId)).length).toBe(1)
      }
    }))
})
