import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TestServerLive } from "../support/TestServer.ts"
import {
  createTenantWithUser,
  postCallBody,
  postWebhook,
  signNow,
  startClock,
  startPracticeCall,
  writtenRows
} from "./PracticeFixtures.ts"

describe("ElevenLabs webhook without a secret", () => {
  it.layer(TestServerLive({ elevenLabsWebhookSecret: Option.none() }))((it) => {
    it.effect("every webhook is 401", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const body = postCallBody(call.dynamic_variables)
        const before = yield* writtenRows

        for (const signature of [yield* signNow(body), undefined]) {
          const response = yield* postWebhook(body, signature)
          expect(response.status).toBe(401)
          expect(response.body!._tag).toBe("Unauthorized")
        }
        expect(yield* writtenRows).toEqual(before)
      }))
  })
})
