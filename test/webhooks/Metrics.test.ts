import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule } from "effect"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { Receiver, respond } from "../support/Receiver.ts"
import { testOperatorToken, TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { awaitDelivery, createSubscription, queueDelivery } from "./DeliveryFixtures.ts"

// The runner's address, which labels its queue gauges.
const runnerAddress = { host: "127.0.0.1", port: 34499 }

// Sweeps run at start-up only, so the sweep counter moves only when a test runs one.
const SuiteLive = Layer.mergeAll(Outbox.Default, Receiver.layer, FetchHttpClient.layer).pipe(
  Layer.provideMerge(TestServerLive({
    sweepInterval: Duration.hours(1),
    cluster: { mode: "single", runnerAddress, listenAddress: runnerAddress }
  }))
)

const runnerLabel = `runner="${runnerAddress.host}:${runnerAddress.port}"`
const queueDepthSeries = `saleslab_webhook_queue_depth{${runnerLabel}}`
const oldestDueAgeSeries = `saleslab_webhook_oldest_due_age_seconds{${runnerLabel}}`

const succeededSeries = "saleslab_webhook_attempts_total{event_kind=\"session.scorecard_finalized\",outcome=\"succeeded\"}"
const retrySeries = "saleslab_webhook_attempts_total{event_kind=\"session.scorecard_finalized\",outcome=\"retry\"}"

/** Fetches `/metrics` without any token. */
const fetchMetrics = Effect.gen(function*() {
  const baseUrl = yield* TestServerUrl
  const response = yield* HttpClient.execute(HttpClientRequest.get(`${baseUrl}/metrics`))
  return { status: response.status, contentType: response.headers["content-type"], text: yield* response.text }
})

/** The value of the sample `series` (name with labels), or 0 when the series has no sample yet. */
const sampleValue = (text: string, series: string): number => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

/** Fetches `/metrics` every 50 ms until the sample `series` is at least `minimum`; fails after 10 seconds. */
const awaitSample = (series: string, minimum: number) =>
  fetchMetrics.pipe(
    Effect.filterOrFail(
      (metrics) => sampleValue(metrics.text, series) >= minimum,
      (metrics) => new Error(`${series} stayed below ${minimum}:\n${metrics.text}`)
    ),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
  )

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("GET /metrics", (it) => {
  it.effect("served without token as Prometheus text", () =>
    Effect.gen(function*() {
      const metrics = yield* fetchMetrics

      expect(metrics.status).toBe(200)
      expect(metrics.contentType).toContain("text/plain")
      expect(metrics.contentType).toContain("version=0.0.4")
      for (const line of metrics.text.trimEnd().split("\n")) {
        expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$/)
      }
    }))

  it.effect("not listed in the OpenAPI document", () =>
    Effect.gen(function*() {
      const baseUrl = yield* TestServerUrl
      const response = yield* HttpClient.execute(HttpClientRequest.get(`${baseUrl}/openapi.json`))
      const document = (yield* response.json) as { paths: Record<string, unknown> }

      expect(Object.keys(document.paths)).not.toContain("/metrics")
    }))

  it.effect("successful delivery counted and timed", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const before = (yield* fetchMetrics).text
      const subscription = yield* createSubscription(`${receiver.url}/hook`)

      const deliveryId = yield* queueDelivery(subscription)
      yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded")
      const after = (yield* awaitSample(succeededSeries, sampleValue(before, succeededSeries) + 1)).text

      expect(sampleValue(after, succeededSeries)).toBeGreaterThanOrEqual(1)
      expect(sampleValue(after, "saleslab_webhook_attempt_duration_seconds_count")).toBeGreaterThan(
        sampleValue(before, "saleslab_webhook_attempt_duration_seconds_count")
      )
      expect(sampleValue(after, "saleslab_webhook_attempt_duration_seconds_bucket{le=\"+Inf\"}")).toBe(
        sampleValue(after, "saleslab_webhook_attempt_duration_seconds_count")
      )
      expect(sampleValue(after, "saleslab_webhook_delivery_lag_seconds_count")).toBeGreaterThan(
        sampleValue(before, "saleslab_webhook_delivery_lag_seconds_count")
      )
    }))

  it.effect("retryable failure counts a scheduled retry", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const before = (yield* fetchMetrics).text
      const subscription = yield* createSubscription(`${receiver.url}/failing`)
      yield* receiver.enqueue(respond(503, "unavailable"))

      const deliveryId = yield* queueDelivery(subscription)
      yield* awaitDelivery(deliveryId, (row) => row.attempts === 1 && row.status === "pending")
      const after = (yield* awaitSample(retrySeries, sampleValue(before, retrySeries) + 1)).text

      expect(sampleValue(after, retrySeries)).toBe(sampleValue(before, retrySeries) + 1)
      expect(sampleValue(after, "saleslab_webhook_retries_scheduled_total")).toBe(
        sampleValue(before, "saleslab_webhook_retries_scheduled_total") + 1
      )
    }))

  it.effect("sweep counted and queue gauges set", () =>
    Effect.gen(function*() {
      const baseUrl = yield* TestServerUrl
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const subscription = yield* createSubscription(`${receiver.url}/claimed`)
      // Due for 30 seconds, and claimed for an hour, so the sweep counts it but cannot send it.
      yield* sql`
        INSERT INTO webhook_deliveries
          (delivery_id, subscription_id, company_id, event_kind, body, status, next_attempt_at, claimed_until, event_at)
        VALUES (${`test.event:claimed:${subscription.subscriptionId}`}, ${subscription.subscriptionId},
          ${subscription.companyId}, 'session.completed', '{}', 'pending', now() - interval '30 seconds',
          now() + interval '1 hour', now() - interval '30 seconds')`
      const before = (yield* fetchMetrics).text

      const response = yield* HttpClient.execute(
        HttpClientRequest.bearerToken(HttpClientRequest.post(`${baseUrl}/api/cron/sweep-deliveries`), testOperatorToken)
      )
      expect(response.status).toBe(202)
      yield* awaitSample("saleslab_webhook_sweeps_total", sampleValue(before, "saleslab_webhook_sweeps_total") + 1)
      // The job measures the queue after the sweep.
      const after = (yield* awaitSample(queueDepthSeries, 1)).text

      // The retry above is due a minute from now, so the claimed row is the only due one. The
      // gauges of a runner carry its address, and the single runner owns every shard.
      expect(sampleValue(after, queueDepthSeries)).toBe(1)
      expect(sampleValue(after, oldestDueAgeSeries)).toBeGreaterThanOrEqual(30)
      expect(sampleValue(after, oldestDueAgeSeries)).toBeLessThan(120)
      expect(after).not.toMatch(/^saleslab_webhook_queue_depth /m)
    }))
})
