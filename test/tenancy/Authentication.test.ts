import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { randomBase62 } from "../../src/platform/Secrets.ts"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createCompany, sendRaw } from "./fixtures.ts"

describe("Authentication", () => {
  it.layer(TestServerLive({ rateLimitPerMinute: 3, rateLimitPerDay: 5 }))((it) => {
    it.effect("me returns company and token", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Me Co")
        const client = yield* apiClient(created.admin_token)
        const reader = yield* client.apiTokens.create({ payload: { name: "Dashboard", scopes: ["read"] } })

        const readerClient = yield* apiClient(reader.token)
        const me = yield* readerClient.me.get()
        expect(me).toEqual({
          company: { id: created.company.id, name: "Me Co" },
          token: { id: reader.id, name: "Dashboard", scopes: ["read"], default_user_id: null }
        })
      }))

    it.effect("missing token is 401", () =>
      Effect.gen(function*() {
        const response = yield* sendRaw("GET", "/v1/me")
        expect(response.status).toBe(401)
        expect(response.body._tag).toBe("Unauthorized")
        expect(response.body.message).toContain("Authorization: Bearer")
      }))

    it.effect("malformed token is 401", () =>
      Effect.gen(function*() {
        for (const token of ["nope", "sl_token_short", `sl_tok_${randomBase62(40)}`, `sl_token_${randomBase62(39)}!`]) {
          const response = yield* sendRaw("GET", "/v1/me", { token })
          expect(response.status).toBe(401)
          expect(response.body.message).toContain("Malformed")
        }
      }))

    it.effect("unknown token is 401", () =>
      Effect.gen(function*() {
        const response = yield* sendRaw("GET", "/v1/users", { token: `sl_token_${randomBase62(40)}` })
        expect(response.status).toBe(401)
        expect(response.body._tag).toBe("Unauthorized")
        expect(response.body.message).toContain("Unknown API token")
      }))

    it.effect("past the minute limit is 429 with Retry-After", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Busy Co")
        // Creating the company used no request of its token, so three requests fit in the minute.
        for (let request = 0; request < 3; request++) {
          const response = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
          expect(response.status).toBe(200)
        }

        yield* TestClock.adjust("15 seconds")
        const limited = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
        expect(limited.status).toBe(429)
        expect(limited.headers["retry-after"]).toBe("45")
        expect(limited.body._tag).toBe("RateLimited")
        expect(limited.body.retry_after_seconds).toBe(45)
        expect(limited.body.message).toContain("3 requests per minute")

        const typed = yield* Effect.flip((yield* apiClient(created.admin_token)).me.get())
        expect(typed._tag).toBe("RateLimited")

        const other = yield* createCompany("Quiet Co")
        expect((yield* sendRaw("GET", "/v1/me", { token: other.admin_token })).status).toBe(200)

        yield* TestClock.adjust("45 seconds")
        const after = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
        expect(after.status).toBe(200)
        expect(after.headers["retry-after"]).toBeUndefined()
      }))

    it.effect("past the day limit is 429 until the day ends", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Daily Co")
        for (let request = 0; request < 5; request++) {
          const response = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
          expect(response.status).toBe(200)
          yield* TestClock.adjust("1 minute")
        }

        const limited = yield* sendRaw("GET", "/v1/me", { token: created.admin_token })
        expect(limited.status).toBe(429)
        expect(limited.headers["retry-after"]).toBe(String(24 * 60 * 60 - 5 * 60))
        expect(limited.body.message).toContain("5 requests per day")
      }))

    it.effect("bad token is rejected before the rate limit", () =>
      Effect.gen(function*() {
        const created = yield* createCompany("Spare Co")
        for (let request = 0; request < 10; request++) {
          expect((yield* sendRaw("GET", "/v1/me", { token: `sl_token_${randomBase62(40)}` })).status).toBe(401)
        }
        expect((yield* sendRaw("GET", "/v1/me", { token: created.admin_token })).status).toBe(200)
      }))
  })
})
