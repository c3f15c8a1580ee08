import { FetchHttpClient, HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { apiClient, TestServerLive, TestServerUrl } from "../support/TestServer.ts"

describe("Health and docs", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("probes answer ok", () =>
      Effect.gen(function*() {
        const client = yield* apiClient()
        expect(yield* client.health.healthz()).toEqual({ status: "ok" })
        expect(yield* client.health.readyz()).toEqual({ status: "ok" })
      }))

    it.effect("openapi document is OpenAPI 3.1", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.get(`${baseUrl}/openapi.json`)
        const document = (yield* response.json) as { openapi: string; paths: Record<string, unknown> }
        expect(document.openapi).toBe("3.1.0")
        expect(Object.keys(document.paths)).toContain("/healthz")
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("docs page is served without a CDN", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.get(`${baseUrl}/docs`)
        const html = yield* response.text
        expect(response.status).toBe(200)
        expect(html).toContain("Sales Lab platform API")
        expect(html).not.toMatch(/<script[^>]*\ssrc="https?:/)
        expect(html).not.toMatch(/<link[^>]*\shref="https?:/)
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("unknown route is a JSON 404", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.get(`${baseUrl}/v1/no-such-route`)
        const body = (yield* response.json) as { _tag: string; message: string }
        expect(response.status).toBe(404)
        expect(body._tag).toBe("NotFound")
        expect(body.message).toContain("/v1/no-such-route")
      }).pipe(Effect.provide(FetchHttpClient.layer)))
  })
})
