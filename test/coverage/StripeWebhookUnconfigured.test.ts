import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createTenantWithUser, startClock, testNow } from "../practice/PracticeFixtures.ts"
import { TestServerLive } from "../support/TestServer.ts"
import { coverageRows, newStripeSubscriptionId, postStripe, signStripe, subscriptionEvent } from "./StripeFixtures.ts"

describe("Stripe webhook without a secret", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("every webhook is 401", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const body = subscriptionEvent({
          subscriptionId: newStripeSubscriptionId(),
          status: "active",
          created: Math.floor(testNow / 1000),
          userId: tenant.userId
        })
        const before = yield* coverageRows

        for (const signature of [yield* signStripe(body), undefined]) {
          const response = yield* postStripe(body, signature)
          expect(response.status).toBe(401)
          expect(response.body!._tag).toBe("Unauthorized")
        }
        expect(yield* coverageRows).toEqual(before)
      }))
  })
})
