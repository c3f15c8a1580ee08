import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { Delivery } from "../../src/webhooks/Delivery.ts"
import { DeliveryStore } from "../../src/webhooks/DeliveryStore.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { type SendReport, WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { ClockOffsetLive, ShiftedClockLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { createSubscription, deliveryRow, queueDelivery, testSettings } from "./DeliveryFixtures.ts"

/** Requests the gated sender has received and not yet responded to, in order. */
const openRequests: Array<{ readonly url: string; readonly respond: () => void }> = []
/** The peak number of requests the gated sender had open at once. */
let peakOpen = 0

/** A sender that responds to each request with 200 only when the test calls its `respond`. */
const GatedSenderLive = Layer.succeed(WebhookSender, {
  send: (request) =>
    new Promise<SendReport>((resolve) => {
      openRequests.push({
        url: request.url,
        respond: () =>
          resolve({ result: { _tag: "Response", statusCode: 200, location: undefined, responseBody: "ok" }, durationMs: 1 })
      })
      peakOpen = Math.max(peakOpen, openRequests.length)
    })
})

const SuiteLive = Delivery.Default.pipe(
  Layer.provideMerge(GatedSenderLive),
  Layer.provideMerge(DeliveryStore.Default),
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ShiftedClockLive),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings({ maxAttemptsInFlight: 3, subscriptionConcurrency: 4 }))
)

/** Waits until the gated sender has `count` open requests. */
const awaitOpen = (count: number) =>
  Effect.gen(function*() {
    while (openRequests.length < count) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeout("5 seconds"))

layer(SuiteLive, { excludeTestServices: true })("Attempt permits", (it) => {
  it.effect("keeps at most the runner's permits of requests open over all batches", () =>
    Effect.gen(function*() {
      const store = yield* DeliveryStore
      const delivery = yield* Delivery
      const first = yield* createSubscription("http://127.0.0.1:1/first")
      const second = yield* createSubscription("http://127.0.0.1:1/second")
      const deliveryIds = yield* Effect.forEach([first, second], (subscription) =>
        Effect.forEach([1, 2, 3, 4], (index) => queueDelivery(subscription, { index })))
      const batches = yield* Effect.forEach([first, second], (subscription) => store.claimDue(subscription.subscriptionId))

      const running = yield* Effect.fork(
        Effect.forEach(batches, (batch) => delivery.attemptBatch(batch, () => false), { concurrency: "unbounded" })
      )
      yield* awaitOpen(3)
      // Give the other attempts time to start, which they must not.
      yield* Effect.sleep("100 millis")
      expect(openRequests.length).toBe(3)

      // Each response frees a permit for the next request, until all eight have responses.
      for (let responded = 0; responded < 8; responded++) {
        yield* awaitOpen(1)
        openRequests.shift()!.respond()
      }
      yield* Fiber.join(running)

      expect(peakOpen).toBe(3)
      for (const deliveryId of deliveryIds.flat()) {
        expect((yield* deliveryRow(deliveryId)).status).toBe("succeeded")
      }
    }))
})
