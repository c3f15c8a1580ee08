import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { createHmac } from "node:crypto"
import { judgeAttempt, type SendResult } from "../../src/webhooks/RetryPolicy.ts"
import { deliveryHeaders, signatureHeader } from "../../src/webhooks/Signing.ts"
import { SentRequests, WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { verifyLikeReference } from "./DeliveryFixtures.ts"

const secret = "sl_whsec_4f8GkT2bQz9XcV1mN7pL0sR3wY6uJ5hD"
const body = JSON.stringify({
  event_kind: "session.scorecard_finalized",
  headline: "Strong discovery — clean close ✓",
  delivery_id: "scorecard.finalized:7c3f:sub_9e"
})

describe("Signing", () => {
  it("matches an independent HMAC-SHA256", () => {
    // Computed from the raw bytes with the key given as bytes, not through the module's code path.
    const key = new TextEncoder().encode(secret)
    const expected = createHmac("sha256", key).update(new TextEncoder().encode(body)).digest("hex")
    expect(signatureHeader(secret, body)).toBe(`sha256=${expected}`)
  })

  it("matches a known vector", () => {
    expect(signatureHeader("key", "The quick brown fox jumps over the lazy dog")).toBe(
      "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
  })

  it("passes the reference verification", () => {
    expect(verifyLikeReference(secret, body, signatureHeader(secret, body))).toBe(true)
  })

  it("fails verification for another body or secret", () => {
    const header = signatureHeader(secret, body)
    expect(verifyLikeReference(secret, `${body} `, header)).toBe(false)
    expect(verifyLikeReference(`${secret}x`, body, header)).toBe(false)
  })

  it("sends exactly the five contract headers", () => {
    const headers = deliveryHeaders({ deliveryId: "d-1", eventKind: "badge.awarded", body, secret })
    expect(headers).toEqual({
      "content-type": "application/json",
      "user-agent": "sales-lab-webhooks/1",
      "x-saleslab-event": "badge.awarded",
      "x-saleslab-delivery-id": "d-1",
      "x-saleslab-signature": signatureHeader(secret, body)
    })
  })

  it.effect("body bytes unchanged across retries", () =>
    Effect.gen(function*() {
      const delivery = { deliveryId: "d-2", eventKind: "session.completed", body, secret, url: "http://127.0.0.1:9/" }
      const sender = yield* WebhookSender
      const outcomes: Array<string> = []
      for (let attempt = 1; attempt <= 3; attempt++) {
        const report = yield* Effect.promise(() =>
          sender.send({ url: delivery.url, headers: deliveryHeaders(delivery), body: delivery.body })
        )
        outcomes.push(judgeAttempt(attempt, report.result).outcome)
      }
      const sent = yield* Ref.get(yield* SentRequests)
      expect(outcomes).toEqual(["retry", "retry", "succeeded"])
      expect(sent.length).toBe(3)
      for (const request of sent) {
        expect(Buffer.from(request.body, "utf8").equals(Buffer.from(body, "utf8"))).toBe(true)
        expect(request.headers).toEqual(sent[0]!.headers)
      }
    }).pipe(
      Effect.provide(WebhookSender.layerTest((_, index): SendResult =>
        index < 2
          ? { _tag: "Response", statusCode: 502, location: undefined, responseBody: "" }
          : { _tag: "Response", statusCode: 200, location: undefined, responseBody: "ok" }
      ))
    ))
})
