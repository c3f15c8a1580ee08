import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { epochNow } from "../../scripts/support/report.ts"
import { startTimedReceiver, type TimedReceiver } from "../../scripts/support/timedReceiver.ts"
import { deliveryHeaders } from "../../src/webhooks/Signing.ts"

const secret = "sl_whsec_TimedReceiverTestSecret0123456789abcd"
const subscriptionId = "sub_TimedReceiverTest00000001"

const post = (url: string, sequence: unknown, signingSecret = secret, signal?: AbortSignal) => {
  const deliveryId = `scorecard.finalized:card-${String(sequence)}:${subscriptionId}`
  const body = JSON.stringify({ event_kind: "session.scorecard_finalized", delivery_id: deliveryId, sequence })
  const headers = deliveryHeaders({ deliveryId, eventKind: "session.scorecard_finalized", body, secret: signingSecret })
  return fetch(url, { method: "POST", headers, body, ...(signal === undefined ? {} : { signal }) })
}

const withReceiver = <A>(use: (receiver: TimedReceiver) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startTimedReceiver()),
    (receiver) => Effect.promise(() => use(receiver)),
    (receiver) => Effect.promise(() => receiver.close())
  )

describe("Timed receiver", () => {
  it.live("reports the arrival of a signed body", () =>
    withReceiver(async (receiver) => {
      const arrivals: Array<[number, number]> = []
      receiver.onArrival((sequence, arrivedAt) => arrivals.push([sequence, arrivedAt]))
      await receiver.addSecrets([[subscriptionId, secret]])

      const sentAt = epochNow()
      const response = await post(receiver.url, 42)
      const respondedAt = epochNow()
      expect(response.status).toBe(200)
      await response.text()

      const counters = await receiver.counters()
      expect(counters.valid).toBe(1)
      expect(arrivals).toHaveLength(1)
      expect(arrivals[0]![0]).toBe(42)
      // Both processes take epoch times from performance.timeOrigin, so the arrival falls between send and response.
      expect(arrivals[0]![1]).toBeGreaterThanOrEqual(sentAt - 1)
      expect(arrivals[0]![1]).toBeLessThanOrEqual(respondedAt + 1)
    }))

  it.live("rejects a wrong signature with 401", () =>
    withReceiver(async (receiver) => {
      const arrivals: Array<number> = []
      receiver.onArrival((sequence) => arrivals.push(sequence))
      await receiver.addSecrets([[subscriptionId, secret]])

      const response = await post(receiver.url, 7, `${secret}x`)
      expect(response.status).toBe(401)
      await response.text()

      const counters = await receiver.counters()
      expect(counters.invalid).toBe(1)
      expect(counters.valid).toBe(0)
      expect(arrivals).toEqual([])
    }))

  it.live("counts a valid body without sequence", () =>
    withReceiver(async (receiver) => {
      await receiver.addSecrets([[subscriptionId, secret]])
      const response = await post(receiver.url, "not a number")
      expect(response.status).toBe(200)
      await response.text()
      expect((await receiver.counters()).withoutSequence).toBe(1)
    }))

  it.live("holds stalled requests until released", () =>
    withReceiver(async (receiver) => {
      await receiver.addSecrets([[subscriptionId, secret]])
      const stalled = post(receiver.stallUrl, 1).then(
        (response) => `status ${response.status}`,
        (error: unknown) => `failed: ${String(error)}`
      )
      let counters = await receiver.counters()
      for (let tries = 0; counters.openStalled === 0 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        counters = await receiver.counters()
      }
      expect(counters.stalledRequests).toBe(1)
      expect(counters.openStalled).toBe(1)

      await receiver.releaseStalled()
      expect(await stalled).toMatch(/^failed: /)
    }))

  it.live("keeps the clock offset of its start", () =>
    withReceiver(async (receiver) => {
      expect(receiver.offsetAtStart.roundTripMs).toBeGreaterThan(0)
      const clock = await receiver.clockOffset(20)
      // Both processes advance on the same monotonic clock, so the offset stays within the measurement error.
      expect(Math.abs(clock.offsetMs - receiver.offsetAtStart.offsetMs)).toBeLessThan(
        (clock.roundTripMs + receiver.offsetAtStart.roundTripMs) / 2 + 0.5
      )
    }))
})
