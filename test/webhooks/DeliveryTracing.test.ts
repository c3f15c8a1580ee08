import { expect, layer } from "@effect/vitest"
import { Clock, ConfigProvider, Effect, HashMap, Layer, Logger, Schedule, Scope } from "effect"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { TracingLive } from "../../src/platform/Tracing.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { closedPortUrl, type ExportedSpan, OtlpCollector } from "../support/OtlpCollector.ts"
import { Receiver } from "../support/Receiver.ts"
import { ClockOffsetLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import {
  attemptRows,
  awaitDelivery,
  createSubscription,
  queueDelivery,
  TestEngineLive,
  testSettings
} from "./DeliveryFixtures.ts"

const SuiteLive = Layer.mergeAll(Outbox.Default, ClockOffsetLive, Receiver.layer, OtlpCollector.layer).pipe(
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings())
)

/** The credential sent to the collector in the tests that set headers. */
const collectorToken = "collector-token-0123456789"

/** Log lines written while an engine runs, with their annotations. */
interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/**
 * Starts the delivery engine with `TracingLive` and settings read from
 * `variables` as the service reads its environment, runs `use`, and stops
 * the engine, which sends the spans the exporter still buffers. Returns what
 * `use` returned and the log lines written meanwhile.
 */
const withEngine = <A, E, R>(variables: Record<string, string>, use: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    const capture = Logger.make(({ annotations, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    const settings = AppConfig.layer.pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({
        WEBHOOK_TIMEOUT: "2 seconds",
        WEBHOOK_SWEEP_INTERVAL: "1 hour",
        // The receiver listens on loopback.
        WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
        ...variables
      })))))
    )
    const engine = TestEngineLive.pipe(
      Layer.provide(TracingLive),
      Layer.provide(settings),
      Layer.provide(Logger.add(capture))
    )
    const result = yield* Effect.acquireUseRelease(
      Scope.make(),
      (scope) => Effect.zipRight(Layer.buildWithScope(engine, scope), use),
      (scope, exit) => Scope.close(scope, exit)
    )
    return { result, lines }
  })

const attributeOf = (span: ExportedSpan, key: string) => span.attributes[key]

/** Returns the only span of `spans` named `name` whose attribute `key` is `value`, failing the test otherwise. */
const onlySpan = (spans: ReadonlyArray<ExportedSpan>, name: string, key: string, value: unknown) => {
  const matching = spans.filter((span) => span.name === name && attributeOf(span, key) === value)
  expect(matching.map((span) => span.name)).toEqual([name])
  return matching[0]!
}

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("Delivery tracing", (it) => {
  it.effect("exports the phase spans of a delivery", () =>
    Effect.gen(function*() {
      const collector = yield* OtlpCollector
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook?token=in-the-query`)
      const variables = {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: "saleslab-tracing-test",
        OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${collectorToken}`,
        OTEL_BSP_SCHEDULE_DELAY: "100"
      }

      const { result: deliveryId } = yield* withEngine(
        variables,
        Effect.gen(function*() {
          const deliveryId = yield* queueDelivery(subscription)
          yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
          // The drain span ends once a claim returns less than a full batch.
          yield* collector.awaitSpans((spans) =>
            spans.some((span) =>
              span.name === "Subscription.drain" &&
              attributeOf(span, "webhook.subscription_id") === subscription.subscriptionId
            )
          )
          return deliveryId
        })
      )

      const requests = yield* collector.requests
      expect(requests.length).toBeGreaterThan(0)
      for (const request of requests) {
        expect(request.path).toBe("/v1/traces")
        expect(request.headers["content-type"]).toBe("application/json")
        expect(request.headers["authorization"]).toBe(`Bearer ${collectorToken}`)
        expect(request.headers["traceparent"]).toBeUndefined()
      }
      const spans = yield* collector.spans
      expect(new Set(spans.map((span) => span.resource["service.name"]))).toEqual(new Set(["saleslab-tracing-test"]))

      const attempt = onlySpan(spans, "Delivery.attempt", "webhook.delivery_id", deliveryId)
      expect(attributeOf(attempt, "webhook.subscription_id")).toBe(subscription.subscriptionId)
      expect(attributeOf(attempt, "webhook.event_kind")).toBe("session.scorecard_finalized")
      expect(attributeOf(attempt, "webhook.attempt")).toBe(1)
      expect(attributeOf(attempt, "webhook.outcome")).toBe("succeeded")
      expect(attributeOf(attempt, "http.response.status_code")).toBe(200)

      const phases = ["Delivery.sign", "Delivery.send", "Delivery.record"].map((name) =>
        onlySpan(spans, name, "webhook.delivery_id", deliveryId)
      )
      for (const phase of phases) {
        expect(phase.parentSpanId).toBe(attempt.spanId)
        expect(phase.traceId).toBe(attempt.traceId)
        expect(attributeOf(phase, "webhook.subscription_id")).toBe(subscription.subscriptionId)
      }
      const [sign, send, record] = phases
      expect(sign!.startTimeUnixNano).toBeLessThanOrEqual(send!.startTimeUnixNano)
      expect(send!.startTimeUnixNano).toBeLessThanOrEqual(record!.startTimeUnixNano)

      const drain = spans.find((span) => span.spanId === attempt.parentSpanId)
      expect(drain?.name).toBe("Subscription.drain")
      expect(attributeOf(drain!, "webhook.subscription_id")).toBe(subscription.subscriptionId)
      // The drain claims the delivery once. A wake-up during the drain may add claims that find nothing.
      const loads = spans.filter((span) => span.name === "Delivery.load" && span.parentSpanId === drain!.spanId)
      const claimedCounts = loads.map((load) => attributeOf(load, "webhook.claimed_count"))
      expect(claimedCounts.filter((count) => count !== 0)).toEqual([1])
      for (const load of loads) {
        expect(attributeOf(load, "webhook.subscription_id")).toBe(subscription.subscriptionId)
      }

      // Neither the delivery's request nor the exports make client spans, so no URL, query or signature is exported.
      expect(spans.filter((span) => span.name.startsWith("http.client"))).toEqual([])
      const exported = JSON.stringify(spans.map((span) => span.attributes))
      expect(exported).not.toContain("in-the-query")
      expect(exported).not.toContain("sha256=")

      const [delivered] = yield* receiver.requests
      expect(delivered!.headers["traceparent"]).toBeUndefined()
      expect(delivered!.headers["b3"]).toBeUndefined()
    }))

  it.effect("exports nothing without an endpoint", () =>
    Effect.gen(function*() {
      const collector = yield* OtlpCollector
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const before = (yield* collector.requests).length

      const { lines } = yield* withEngine(
        { OTEL_SERVICE_NAME: "saleslab-tracing-test", OTEL_EXPORTER_OTLP_HEADERS: `authorization=${collectorToken}` },
        Effect.gen(function*() {
          const deliveryId = yield* queueDelivery(subscription)
          yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
          yield* Effect.sleep("500 millis")
        })
      )

      expect((yield* collector.requests).length).toBe(before)
      expect(lines.filter((line) => line.message.includes("OTLP"))).toEqual([])
    }))

  it.effect("delivers while the collector is down", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const collectorUrl = yield* closedPortUrl

      const { lines, result: deliveryIds } = yield* withEngine(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
          OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${collectorToken}`,
          OTEL_BSP_SCHEDULE_DELAY: "100"
        },
        Effect.gen(function*() {
          const deliveryIds = yield* Effect.forEach([1, 2, 3], (index) => queueDelivery(subscription, { index }))
          for (const deliveryId of deliveryIds) {
            yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
          }
          // One export with its retries takes about 3 seconds against a refused port.
          yield* Effect.sleep("4 seconds")
          return deliveryIds
        })
      )

      for (const deliveryId of deliveryIds) {
        const attempts = yield* attemptRows(deliveryId)
        expect(attempts.map((attempt) => attempt.outcome)).toEqual(["succeeded"])
      }
      const received = (yield* receiver.requests).map((request) => request.headers["x-saleslab-delivery-id"])
      expect(received.filter((id) => deliveryIds.includes(String(id))).length).toBe(3)
      const warnings = lines.filter((line) => line.message.startsWith("Trace export failed"))
      expect(warnings.length).toBe(1)
      expect(warnings[0]!.level).toBe("WARN")
      expect(warnings[0]!.annotations["otlp_traces_url"]).toBe(`${collectorUrl}/v1/traces`)
      expect(String(warnings[0]!.annotations["error"])).toContain("ECONNREFUSED")
      expect(JSON.stringify(lines)).not.toContain(collectorToken)
    }))

  it.effect("delivers while the collector stalls", () =>
    Effect.gen(function*() {
      const collector = yield* OtlpCollector
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const before = (yield* collector.requests).length
      yield* collector.setStalled(true)

      const { result: deliveryId } = yield* withEngine(
        { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "100" },
        Effect.gen(function*() {
          const deliveryId = yield* queueDelivery(subscription)
          yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
          // The delivery can finish before the first export is due, so the engine runs until one was sent.
          yield* collector.requests.pipe(
            Effect.filterOrFail((requests) => requests.length > before, () => new Error("No export request arrived")),
            Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds"))),
            Effect.withClock(Clock.make())
          )
          return deliveryId
        })
      ).pipe(Effect.ensuring(collector.setStalled(false)))

      const attempts = yield* attemptRows(deliveryId)
      expect(attempts.map((attempt) => attempt.outcome)).toEqual(["succeeded"])
      expect((yield* collector.requests).length).toBeGreaterThan(before)
    }))
})
