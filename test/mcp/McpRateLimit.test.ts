import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { sendAs } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"
import { seedTenant } from "./McpFixtures.ts"

describe("MCP rate limits", () => {
  it.layer(TestServerLive({ rateLimitPerMinute: 3 }))((it) => {
    it.effect("MCP requests count against the token", () =>
      Effect.gen(function*() {
        const tenant = yield* seedTenant("Acme")
        const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list" }
        const headers = { accept: "application/json, text/event-stream" }

        const answers = yield* Effect.forEach([1, 2, 3, 4], () => sendAs(tenant.token, "POST", "/mcp", listTools, headers))
        const rest = yield* sendAs(tenant.token, "GET", "/v1/me")

        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429])
        expect(answers[3]!.body._tag).toBe("RateLimited")
        expect(answers[3]!.body.retry_after_seconds).toBeGreaterThan(0)
        expect(answers[3]!.body.retry_after_seconds).toBeLessThanOrEqual(60)
        expect(answers[0]!.body.result.tools).toHaveLength(5)
        expect(rest.status).toBe(429)
      }))
  })
})
