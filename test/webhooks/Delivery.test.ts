import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { Delivery } from "../../src/webhooks/Delivery.ts"
import { DeliveryStore } from "../../src/webhooks/DeliveryStore.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { SentRequests, WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { ClockOffset, ClockOffsetLive, ShiftedClockLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { attemptRows, createSubscription, deliveryRow, queueDelivery, testSettings } from "./DeliveryFixtures.ts"

const SuiteLive = Delivery.Default.pipe(
  Layer.provideMerge(WebhookSender.layerTest(() => ({ _tag: "Response", statusCode: 200, location: undefined, responseBody: "ok" }))),
  Layer.provideMerge(DeliveryStore.Default),
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ShiftedClockLive),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings())
)

layer(SuiteLive, { excludeTestServices: true })("Delivery", (it) => {
  it.effect("sends and records a fresh claim", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const delivery = yield* Delivery
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryId = yield* queueDelivery(subscription)
      const [claimed] = yield* store.claimDue(subscription.subscriptionId)
      const sentBefore = (yield* Ref.get(yield* SentRequests)).length

      yield* delivery.attempt(claimed!)

      expect((yield* Ref.get(yield* SentRequests)).length).toBe(sentBefore + 1)
      expect((yield* deliveryRow(deliveryId)).status).toBe("succeeded")
      expect((yield* attemptRows(deliveryId)).length).toBe(1)
    }))

  it.effect("leaves a claim about to end unsent", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const delivery = yield* Delivery
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryId = yield* queueDelivery(subscription)
      const [claimed] = yield* store.claimDue(subscription.subscriptionId)
      const sentBefore = (yield* Ref.get(yield* SentRequests)).length
      // The claim lasts 11 s with the 1 s test timeout, and an attempt needs
      // the timeout plus 3 s of it left, so 8 s later it may not start.
      yield* ClockOffset.advance("8 seconds")

      yield* delivery.attempt(claimed!)

      expect((yield* Ref.get(yield* SentRequests)).length).toBe(sentBefore)
      const row = yield* deliveryRow(deliveryId)
      expect(row.status).toBe("pending")
      expect(row.attempts).toBe(0)
      expect(row.claimed_until).not.toBeNull()
      expect((yield* attemptRows(deliveryId)).length).toBe(0)
    }))
})
