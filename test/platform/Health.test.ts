import { FetchHttpClient, HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Effect } from "effect"
import { apiClient, TestServerLive, TestServerUrl } from "../support/TestServer.ts"

/** Every route of the public contract that the service serves. */
const publicRoutes = [
  "GET /healthz",
  "GET /readyz",
  "POST /api/admin/companies",
  "POST /api/cron/{job}",
  "GET /v1/me",
  "POST /v1/api-tokens",
  "GET /v1/api-tokens",
  "DELETE /v1/api-tokens/{id}",
  "POST /v1/users",
  "GET /v1/users",
  "POST /v1/webhooks",
  "GET /v1/webhooks",
  "GET /v1/webhooks/{id}",
  "PATCH /v1/webhooks/{id}",
  "DELETE /v1/webhooks/{id}",
  "POST /v1/webhooks/{id}/test",
  "GET /v1/webhooks/{id}/deliveries",
  "GET /v1/webhooks/{id}/deliveries/{delivery_id}",
  "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry",
  "POST /v1/scenarios",
  "POST /v1/practice-calls",
  "GET /v1/sessions",
  "GET /v1/sessions/{id}/scorecard",
  "GET /v1/users/{id}/coaching-brief",
  "POST /api/webhooks/elevenlabs",
  "POST /api/webhooks/stripe",
  "GET /api/admin/wage-index",
  "PATCH /api/admin/wage-index/{snapshot_id}",
  "GET /v1/event-kinds",
  "POST /v1/assignments",
  "GET /v1/assignments",
  "GET /v1/assignments/{id}",
  "GET /v1/users/{id}/badges",
  "POST /api/coaching/streak",
  "POST /api/admin/tournaments",
  "POST /api/admin/tournaments/{id}/teams",
  "POST /api/admin/tournaments/{id}/start",
  "GET /v1/tournaments/{slug}",
  "POST /api/tournament-matches/{id}/result",
  "POST /api/integrations/calls",
  "POST /v1/realtime-sessions",
  "POST /api/realtime/sessions/{id}/autopop",
  "POST /api/admin/retros"
]

describe("Health and docs", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("probes answer ok", () =>
      Effect.gen(function*() {
        const client = yield* apiClient()
        expect(yield* client.health.healthz()).toEqual({ status: "ok" })
        expect(yield* client.health.readyz()).toEqual({ status: "ok" })
      }))

    it.effect("openapi document is valid OpenAPI 3.1", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.get(`${baseUrl}/openapi.json`)
        const document = (yield* response.json) as { openapi: string; paths: Record<string, Record<string, unknown>> }
        const result = yield* Effect.promise(() => new Validator().validate(document as unknown as Parameters<Validator["validate"]>[0]))

        expect(document.openapi).toBe("3.1.0")
        expect(result.errors).toBeUndefined()
        expect(result.valid).toBe(true)
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("openapi document lists every route", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.get(`${baseUrl}/openapi.json`)
        const document = (yield* response.json) as { paths: Record<string, Record<string, unknown>> }
        const listed = Object.entries(document.paths).flatMap(([path, operations]) =>
          Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)
        )

        for (const route of publicRoutes) expect(listed).toContain(route)
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
