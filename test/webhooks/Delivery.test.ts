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

      yield* delivery.attemptBatch([claimed!], () => false)

      expect((yield* Ref.get(yield* SentRequests)).length).toBe(sentBefore + 1)
      expect((yield* deliveryRow(deliveryId)).status).toBe("succeeded")
      expect((yield* attemptRows(deliveryId)).length).toBe(1)
    }))

  it.effect("leaves a row unsent whose claim another runner took over", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const delivery = yield* Delivery
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryId = yield* queueDelivery(subscription)
      const [claimed] = yield* store.claimDue(subscription.subscriptionId)
      // The claim lasts 11 s with the 1 s test timeout; past it, the row is due again.
      yield* ClockOffset.advance("12 seconds")
      const [takenOver] = yield* store.claimDue(subscription.subscriptionId)
      const sentBefore = (yield* Ref.get(yield* SentRequests)).length

      yield* delivery.attemptBatch([claimed!], () => false)

      expect((yield* Ref.get(yield* SentRequests)).length).toBe(sentBefore)
      const row = yield* deliveryRow(deliveryId)
      expect(row.status).toBe("pending")
      expect(row.attempts).toBe(0)
      expect(row.claimed_until).toEqual(takenOver!.claimedUntil)
      expect((yield* attemptRows(deliveryId)).length).toBe(0)
    }))

  it.effect("starts nothing once the engine is stopping, and releases the claims", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const delivery = yield* Delivery
      const subscription = yield* createSubscription("http://127.0.0.1:1/unused")
      const deliveryIds = yield* Effect.forEach([1, 2, 3], (index) => queueDelivery(subscription, { index }))
      const claimed = yield* store.claimDue(subscription.subscriptionId)
      const sentBefore = (yield* Ref.get(yield* SentRequests)).length

      yield* delivery.attemptBatch(claimed, () => true)

      expect((yield* Ref.get(yield* SentRequests)).length).toBe(sentBefore)
      for (const deliveryId of deliveryIds) {
        const row = yield* deliveryRow(deliveryId)
        expect(row.status).toBe("pending")
        expect(row.claimed_until).toBeNull()
      }
    }))
})
