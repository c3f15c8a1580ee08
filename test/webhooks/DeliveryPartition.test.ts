import { describe, expect, it, layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { deliveryPartitionCount, partitionOf } from "../../src/webhooks/DeliveryPartition.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { Receiver, stall } from "../support/Receiver.ts"
import { ClockOffsetLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import {
  attemptRows,
  awaitDelivery,
  createSubscription,
  deliveryRow,
  newSubscriptionId,
  queueDelivery,
  TestEngineLive,
  testSettings
} from "./DeliveryFixtures.ts"

describe("partitionOf", () => {
  it("is stable for one id", () => {
    const id = newSubscriptionId()
    expect(partitionOf(id)).toBe(partitionOf(id))
    expect(partitionOf("sub_0000000000000000")).toBe("254")
  })

  it("spreads subscription ids over every partition", () => {
    const counts = new Map<string, number>()
    for (let index = 0; index < 25_600; index++) {
      const partition = partitionOf(newSubscriptionId())
      expect(Number.isInteger(Number(partition))).toBe(true)
      counts.set(partition, (counts.get(partition) ?? 0) + 1)
    }
    expect(counts.size).toBe(deliveryPartitionCount)
    for (const [partition, count] of counts) {
      expect(Number(partition)).toBeGreaterThanOrEqual(0)
      expect(Number(partition)).toBeLessThan(deliveryPartitionCount)
      // 100 expected per partition; 5 standard deviations either side.
      expect(count).toBeGreaterThan(50)
      expect(count).toBeLessThan(150)
    }
  })
})

/** Two new subscription ids that fall into the same partition. */
const idsOfOnePartition = (): readonly [string, string] => {
  const seen = new Map<string, string>()
  for (;;) {
    const id = newSubscriptionId()
    const other = seen.get(partitionOf(id))
    if (other !== undefined) return [other, id]
    seen.set(partitionOf(id), id)
  }
}

const SuiteLive = TestEngineLive.pipe(
  Layer.provideMerge(Outbox.Default),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings({ deliveryTimeout: Duration.seconds(5) }))
)

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("DeliveryPartition", (it) => {
  it.effect("stall spares partition neighbours", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const [stalledId, healthyId] = idsOfOnePartition()
      const stalled = yield* createSubscription(`${receiver.url}/stalled`, stalledId)
      const healthy = yield* createSubscription(`${receiver.url}/healthy`, healthyId)

      yield* receiver.enqueue(stall)
      const stalledDelivery = yield* queueDelivery(stalled)
      yield* receiver.awaitRequests(1)
      const healthyDelivery = yield* queueDelivery(healthy)

      yield* awaitDelivery(healthyDelivery, (row) => row.status === "succeeded")
      // The stalled attempt is still open: it ends only at the 5 s timeout.
      const stalledRow = yield* deliveryRow(stalledDelivery)
      expect(stalledRow.attempts).toBe(0)
      const timedOut = yield* awaitDelivery(stalledDelivery, (row) => row.attempts === 1)
      expect(timedOut.status).toBe("pending")
      const [healthyAttempt] = yield* attemptRows(healthyDelivery)
      const [stalledAttempt] = yield* attemptRows(stalledDelivery)
      expect(healthyAttempt!.outcome).toBe("succeeded")
      expect(stalledAttempt!.outcome).toBe("retry")
      expect(healthyAttempt!.started_at.getTime()).toBeLessThan(
        stalledAttempt!.started_at.getTime() + stalledAttempt!.duration_ms
      )
    }).pipe(Effect.provide(Receiver.layer)))
})
