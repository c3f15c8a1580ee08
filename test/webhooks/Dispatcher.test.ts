import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, Metric, Schedule } from "effect"
import { webhookSweeps } from "../../src/platform/Metrics.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { Receiver } from "../support/Receiver.ts"
import { ClockOffsetLive } from "../support/ShiftedClock.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { awaitDelivery, createSubscription, queueDelivery, TestEngineLive, testSettings } from "./DeliveryFixtures.ts"

/** Every log line of the suite's engine, as level and message. */
const logLines: Array<{ readonly level: string; readonly message: unknown }> = []
const CapturedLogsLive = Logger.add(Logger.make(({ logLevel, message }) => {
  logLines.push({ level: logLevel.label, message: Array.isArray(message) ? message[0] : message })
}))

// Sweeps only at start-up, so a delivery queued later is sent only if its notification arrives.
const SuiteLive = TestEngineLive.pipe(
  Layer.provideMerge(Layer.mergeAll(Outbox.Default, Receiver.layer)),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings({ listenProbeInterval: Duration.seconds(1) })),
  Layer.provide(CapturedLogsLive)
)

/** Backend process ids of the connections that LISTEN on the delivery channel. */
const listenerPids = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ pid: number }>`
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND query ILIKE 'LISTEN%webhook_deliveries%'`).pipe(
  Effect.map((rows) => rows.map((row) => row.pid)),
  Effect.orDie
)

layer(SuiteLive, { excludeTestServices: true, timeout: "60 seconds" })("Dispatcher", (it) => {
  // Runs first, before any reconnection adds a sweep of its own.
  it.effect("first LISTEN is followed by a sweep", () =>
    Effect.gen(function*() {
      yield* listenerPids.pipe(
        Effect.filterOrFail((pids) => pids.length === 1, () => new Error("no LISTEN connection yet")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      // The sweeper singleton sweeps once at start-up, and the dispatcher once after its LISTEN.
      const sweeps = yield* Metric.value(webhookSweeps).pipe(
        Effect.filterOrFail((state) => state.count >= 2, (state) => new Error(`${state.count} sweeps so far`)),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      expect(sweeps.count).toBeGreaterThanOrEqual(2)
    }))

  it.effect("notification wakes the subscription", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const subscription = yield* createSubscription(`${receiver.url}/first`)
      const deliveryId = yield* queueDelivery(subscription)
      yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "5 seconds")
    }))

  it.effect("LISTEN survives a dropped connection", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const before = yield* listenerPids.pipe(
        Effect.filterOrFail((pids) => pids.length === 1, () => new Error("no LISTEN connection yet")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      yield* sql`SELECT pg_terminate_backend(${before[0]!})`

      const after = yield* listenerPids.pipe(
        Effect.filterOrFail(
          (pids) => pids.length === 1 && pids[0] !== before[0],
          () => new Error("the dispatcher did not reconnect")
        ),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("20 seconds")))
      )
      expect(after[0]).not.toBe(before[0])
      // The server ended the session itself, which is logged as one line without a warning.
      const ended = "PostgreSQL ended the delivery LISTEN session, as at its shutdown or by an administrator; reconnecting"
      expect(logLines).toContainEqual({ level: "INFO", message: ended })
      expect(logLines.filter((line) => line.message === "Delivery LISTEN connection lost; reconnecting")).toEqual([])

      const subscription = yield* createSubscription(`${receiver.url}/second`)
      const deliveryId = yield* queueDelivery(subscription)
      yield* awaitDelivery(deliveryId, (row) => row.status === "succeeded", "5 seconds")
      const paths = (yield* receiver.requests).map((request) => request.path)
      expect(paths).toContain("/second")
    }))
})
