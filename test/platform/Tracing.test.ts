import { FetchHttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Logger, Option, Redacted } from "effect"
import { makeExportClient } from "../../src/platform/Tracing.ts"
import { parseOtlpHeaders, tracingConfig } from "../../src/platform/TracingConfig.ts"
import { OtlpCollector } from "../support/OtlpCollector.ts"

/** Reads `tracingConfig` from `variables` as the service reads its environment. */
const readTracing = (variables: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(tracingConfig, ConfigProvider.fromMap(new Map(Object.entries(variables)))))

/** Returns the settings read from `variables`, failing the test when they are invalid or unset. */
const tracingSettings = (variables: Record<string, string>) =>
  Effect.map(readTracing(variables), (result) => Option.getOrThrow(Either.getOrThrow(result)))

/** Returns the message of the error that reading `variables` fails with. */
const tracingError = (variables: Record<string, string>) =>
  Effect.map(readTracing(variables), (result) => {
    expect(Either.isLeft(result)).toBe(true)
    return String(Either.flip(result).pipe(Either.getOrThrow))
  })

describe("Tracing settings", () => {
  it.effect("unset without an endpoint", () =>
    Effect.gen(function*() {
      expect(yield* readTracing({})).toEqual(Either.right(Option.none()))
      const withoutEndpoint = yield* readTracing({
        OTEL_SERVICE_NAME: "saleslab-staging",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20token"
      })
      expect(withoutEndpoint).toEqual(Either.right(Option.none()))
      expect(yield* readTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " })).toEqual(Either.right(Option.none()))
    }))

  it.effect("base endpoint gets /v1/traces", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"],
        ["http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"],
        ["https://collector.example.com/otlp/", "https://collector.example.com/otlp/v1/traces"]
      ]
      for (const [endpoint, expected] of cases) {
        const settings = yield* tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })
        expect(settings.tracesUrl).toBe(expected)
      }
    }))

  it.effect("traces endpoint is used as given", () =>
    Effect.gen(function*() {
      const settings = yield* tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9999/custom/traces"
      })
      expect(settings.tracesUrl).toBe("http://127.0.0.1:9999/custom/traces")
    }))

  it.effect("defaults and explicit values", () =>
    Effect.gen(function*() {
      const defaults = yield* tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })
      expect(defaults.serviceName).toBe("saleslab-platform")
      expect(defaults.headers).toEqual({})
      expect(Duration.toMillis(defaults.exportInterval)).toBe(5000)

      const explicit = yield* tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_SERVICE_NAME: "saleslab-staging",
        OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20abc, x-scope=team%2Cone",
        OTEL_BSP_SCHEDULE_DELAY: "250"
      })
      expect(explicit.serviceName).toBe("saleslab-staging")
      expect(Object.keys(explicit.headers)).toEqual(["authorization", "x-scope"])
      expect(Redacted.value(explicit.headers["authorization"]!)).toBe("Bearer abc")
      expect(Redacted.value(explicit.headers["x-scope"]!)).toBe("team,one")
      expect(Duration.toMillis(explicit.exportInterval)).toBe(250)
    }))

  it.effect("invalid values fail with the variable", () =>
    Effect.gen(function*() {
      const notUrl = yield* tracingError({ OTEL_EXPORTER_OTLP_ENDPOINT: "127.0.0.1:4318" })
      expect(notUrl).toContain("OTEL_EXPORTER_OTLP_ENDPOINT")
      expect(notUrl).toContain("http or https URL")
      const wrongScheme = yield* tracingError({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://127.0.0.1:4317" })
      expect(wrongScheme).toContain("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
      const interval = yield* tracingError({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_BSP_SCHEDULE_DELAY: "0" })
      expect(interval).toContain("OTEL_BSP_SCHEDULE_DELAY")
    }))

  it.effect("header errors never show values", () =>
    Effect.gen(function*() {
      const missingSeparator = yield* tracingError({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_EXPORTER_OTLP_HEADERS: "x-ok=fine,secret-token-value"
      })
      expect(missingSeparator).toContain("OTEL_EXPORTER_OTLP_HEADERS")
      expect(missingSeparator).toContain("entry 2")
      expect(missingSeparator).not.toContain("secret-token-value")

      const badEncoding = yield* tracingError({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=secret%zz"
      })
      expect(badEncoding).toContain("authorization")
      expect(badEncoding).not.toContain("secret")
    }))

  it("header list parsing", () => {
    expect(Either.map(parseOtlpHeaders(""), Object.keys)).toEqual(Either.right([]))
    expect(Either.map(parseOtlpHeaders(" a=1 ,, b = 2 ,"), Object.keys)).toEqual(Either.right(["a", "b"]))
    expect(Either.map(parseOtlpHeaders("a=x=y"), (headers) => Redacted.value(headers["a"]!))).toEqual(Either.right("x=y"))
    expect(parseOtlpHeaders("=value")).toEqual(Either.left("entry 1 is not of the form name=value"))
    expect(parseOtlpHeaders("bad name=value")).toEqual(Either.left("entry 1 has an invalid header name"))
  })
})

describe("Trace export client", () => {
  it.effect("warns once per failure streak", () => {
    const levels: Array<string> = []
    const capture = Logger.make(({ logLevel }) => {
      levels.push(logLevel.label)
    })
    return Effect.gen(function*() {
      const collector = yield* OtlpCollector
      const tracesUrl = `${collector.url}/v1/traces`
      yield* collector.respondWith(503, 401, 200, 200, 500, 200)
      const client = yield* makeExportClient(tracesUrl)

      const levelsPerRequest: Array<Array<string>> = []
      for (let request = 0; request < 6; request++) {
        yield* client.execute(HttpClientRequest.post(tracesUrl).pipe(
          HttpClientRequest.bodyText("{\"resourceSpans\":[]}", "application/json")
        ))
        levelsPerRequest.push(levels.splice(0))
      }

      expect(levelsPerRequest).toEqual([["WARN"], [], ["INFO"], [], ["WARN"], ["INFO"]])
      const requests = yield* collector.requests
      expect(requests.length).toBe(6)
      for (const request of requests) {
        expect(request.headers["traceparent"]).toBeUndefined()
      }
    }).pipe(
      // A current span, whose context an ordinary client would send as `traceparent`.
      Effect.withSpan("Tracing.test"),
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Effect.provide(FetchHttpClient.layer),
      Effect.provide(OtlpCollector.layer)
    )
  })
})
