import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { connectorsHtml, warehouseViews } from "../../src/warehouse/Connectors.ts"
import { TestServerLive, TestServerUrl } from "../support/TestServer.ts"

const SuiteLive = FetchHttpClient.layer.pipe(Layer.provideMerge(TestServerLive()))

/** Fetches `path` of the test server without any token. */
const fetchPath = (path: string) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const response = yield* HttpClient.execute(HttpClientRequest.get(`${baseUrl}${path}`))
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("GET /connectors", (it) => {
  it.effect("served without token as HTML", () =>
    Effect.gen(function*() {
      const page = yield* fetchPath("/connectors")

      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.text).toBe(connectorsHtml())
      for (const view of warehouseViews) {
        expect(page.text, view).toContain(view)
      }
    }))

  it.effect("policy allows inline style only", () =>
    Effect.gen(function*() {
      const page = yield* fetchPath("/connectors")

      expect(page.headers["content-security-policy"]).toContain("default-src 'none'")
      expect(page.headers["content-security-policy"]).toContain("style-src 'unsafe-inline'")
      expect(page.headers["x-content-type-options"]).toBe("nosniff")
      expect(page.text).not.toMatch(/<script|<link|<img|src=|url\(|@import/i)
    }))

  it.effect("not listed in the OpenAPI document", () =>
    Effect.gen(function*() {
      const document = JSON.parse((yield* fetchPath("/openapi.json")).text) as { paths: Record<string, unknown> }

      expect(Object.keys(document.paths)).not.toContain("/connectors")
    }))
})
