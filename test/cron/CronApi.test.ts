import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Metric, Schedule } from "effect"
import { webhookSweeps } from "../../src/platform/Metrics.ts"
import { Receiver } from "../support/Receiver.ts"
import { testOperatorToken, TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { awaitDelivery, createSubscription, deliveryRow } from "../webhooks/DeliveryFixtures.ts"

// Sweeps run at start-up only, so a later delivery is sent only when something wakes it.
const SuiteLive = Layer.mergeAll(
  TestServerLive({ sweepInterval: Duration.hours(1) }),
  Receiver.layer,
  FetchHttpClient.layer
)

/** Sweeps that this suite's requests have started in the background. */
let cronSweepsStarted = 0

/** Sweeps at start-up: the sweeper's first, and the one after the dispatcher's first LISTEN. */
const startUpSweeps = 2

/** Posts to the cron route with `token` as bearer, or with no Authorization header for `null`. */
const postCron = (job: string, token: string | null = testOperatorToken) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const request = HttpClientRequest.post(`${baseUrl}/api/cron/${job}`)
    const response = yield* HttpClient.execute(
      token === null ? request : HttpClientRequest.bearerToken(request, token)
    )
    if (job === "sweep-deliveries" && response.status === 202) cronSweepsStarted += 1
    return { status: response.status, body: (yield* response.json) as Record<string, unknown> }
  })

/** Waits until `count` sweeps have finished in this process, checking every 50 ms. */
const awaitSweeps = (count: number) =>
  Metric.value(webhookSweeps).pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (state) => state.count >= count }),
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new Error(`timed out after 20 s waiting for ${count} delivery sweeps to finish`)
    })
  )

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("POST /api/cron/{job}", (it) => {
  it.effect("sweep-deliveries answers 202 started", () =>
    Effect.gen(function*() {
      const response = yield* postCron("sweep-deliveries")
      expect(response.status).toBe(202)
      expect(response.body).toEqual({ job: "sweep-deliveries", status: "started" })
    }))

  it.effect("unknown job is 404 listing known jobs", () =>
    Effect.gen(function*() {
      const response = yield* postCron("defrost-fridge")
      expect(response.status).toBe(404)
      expect(response.body["_tag"]).toBe("NotFound")
      expect(response.body["message"]).toContain("defrost-fridge")
      expect(response.body["message"]).toContain("sweep-deliveries")
    }))

  it.effect("missing or wrong operator token is 401", () =>
    Effect.gen(function*() {
      expect((yield* postCron("sweep-deliveries", null)).status).toBe(401)
      expect((yield* postCron("sweep-deliveries", "not-the-operator-token")).status).toBe(401)
    }))

  it.effect("sweep-deliveries sends a delivery nothing else woke", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const subscription = yield* createSubscription(`${receiver.url}/hook`)
      const deliveryId = `test.event:cron:${subscription.subscriptionId}`
      // A sweep still to run, at start-up or one an earlier request started,
      // would find the row and send it without the request below.
      yield* awaitSweeps(startUpSweeps + cronSweepsStarted)
      // Inserted without pg_notify, as if the notification had been lost.
      yield* sql`
        INSERT INTO webhook_deliveries
          (delivery_id, subscription_id, company_id, event_kind, body, status, next_attempt_at, event_at)
        VALUES (${deliveryId}, ${subscription.subscriptionId}, ${subscription.companyId}, 'session.completed',
          ${JSON.stringify({ event_kind: "session.completed", delivery_id: deliveryId })}, 'pending', now(), now())`

      yield* Effect.sleep("1500 millis")
      expect((yield* deliveryRow(deliveryId)).attempts).toBe(0)

      const response = yield* postCron("sweep-deliveries")
      expect(response.status).toBe(202)
      yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "10 seconds")
      const [request] = yield* receiver.requests
      expect(request!.headers["x-saleslab-delivery-id"]).toBe(deliveryId)
    }))
})
