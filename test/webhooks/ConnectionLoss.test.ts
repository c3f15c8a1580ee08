import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule } from "effect"
import pg from "pg"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { Receiver, respond } from "../support/Receiver.ts"
import { ClockOffsetLive } from "../support/ShiftedClock.ts"
import { databaseUrl, TestDatabaseLive } from "../support/TestDatabase.ts"
import { createSubscription, queueDelivery, TestEngineLive, testSettings } from "./DeliveryFixtures.ts"

const subscriptionConcurrency = 4
const deliveriesPerSubscription = 150

// A 1 second sweep interval, so that rows whose attempt was sent but never
// recorded are picked up soon after their claims expire (the 3 s delivery
// timeout plus the store's 10 s margin). With a 1 s timeout, a busy machine
// timed out requests, whose retries came a minute later, after the wait.
const SuiteLive = TestEngineLive.pipe(
  Layer.provideMerge(Layer.mergeAll(Outbox.Default, Receiver.layer)),
  Layer.provideMerge(ClockOffsetLive),
  Layer.provideMerge(TestDatabaseLive),
  Layer.provideMerge(testSettings({ subscriptionConcurrency, sweepInterval: Duration.seconds(1), deliveryTimeout: Duration.seconds(3) }))
)

/** Runs `query` on a connection of its own to the test database, outside the engine's pool. */
const onOwnConnection = <A extends pg.QueryResultRow>(database: string, query: string) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: databaseUrl(database) })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.query<A>(query, [database])),
    (client) => Effect.promise(() => client.end())
  ).pipe(Effect.map((result) => result.rows))

/** Ends every client connection to `database` but the caller's own, and returns how many were ended. */
const terminateConnections = (database: string) =>
  onOwnConnection<{ terminated: boolean }>(
    database,
    `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
     WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`
  ).pipe(Effect.map((rows) => rows.filter((row) => row.terminated).length))

/** Backend process ids of the connections that LISTEN on the delivery channel. */
const listenerPids = (database: string) =>
  onOwnConnection<{ pid: number }>(
    database,
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%webhook_deliveries%'`
  ).pipe(Effect.map((rows) => rows.map((row) => row.pid)))

layer(SuiteLive, { excludeTestServices: true, timeout: "90 seconds" })("Database connection loss", (it) => {
  it.effect("ending connections mid-delivery loses nothing", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const sql = yield* SqlClient.SqlClient
      const [{ database }] = yield* sql<{ database: string }>`SELECT current_database() AS database`
      // 50 ms per response keeps the deliveries flowing for a few seconds.
      yield* receiver.setFallback(respond(200, "ok", 50))

      const subscriptions = [yield* createSubscription(`${receiver.url}/a`), yield* createSubscription(`${receiver.url}/b`)]
      const listenerBefore = yield* listenerPids(database).pipe(
        Effect.filterOrFail((pids) => pids.length === 1, () => new Error("no LISTEN connection yet")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      // One transaction queues the whole burst at once, so the connections end while most of it is still due.
      const queued = yield* Effect.forEach(
        Array.from({ length: deliveriesPerSubscription * subscriptions.length }, (_, index) => index),
        (index) => queueDelivery(subscriptions[index % subscriptions.length]!, { index })
      ).pipe(sql.withTransaction)

      const total = queued.length
      yield* receiver.awaitRequests(Math.floor(total * 0.2), "30 seconds")
      const terminated = yield* terminateConnections(database)
      const receivedAtTermination = (yield* receiver.requests).length

      // The engine's pool, its LISTEN connection and the cluster's shard lock
      // connection were open, so at least three connections ended.
      expect(terminated).toBeGreaterThanOrEqual(3)
      expect(receivedAtTermination).toBeLessThan(total)

      // A query on a connection that ended a moment ago fails, and the pool
      // then opens a new one, so the count is retried.
      const succeededCount = sql<{ count: number }>`
        SELECT count(*)::int AS count FROM webhook_deliveries
        WHERE subscription_id IN ${sql.in(subscriptions.map((subscription) => subscription.subscriptionId))}
          AND status = 'succeeded'`.pipe(Effect.map((rows) => rows[0]!.count))
      yield* succeededCount.pipe(
        Effect.filterOrFail((count) => count === total, (count) => new Error(`${count} of ${total} succeeded`)),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds")))
      )

      const received = (yield* receiver.requests).map((request) => String(request.headers["x-saleslab-delivery-id"]))
      const timesReceived = new Map<string, number>()
      for (const deliveryId of received) timesReceived.set(deliveryId, (timesReceived.get(deliveryId) ?? 0) + 1)
      const lost = queued.filter((deliveryId) => !timesReceived.has(deliveryId))
      const duplicated = [...timesReceived.values()].filter((count) => count > 1).length
      expect(lost).toEqual([])
      expect(timesReceived.size).toBe(total)
      // Only attempts in flight when the connections ended can be sent twice.
      expect(duplicated).toBeLessThanOrEqual(subscriptionConcurrency * subscriptions.length)

      const listenerAfter = yield* listenerPids(database).pipe(
        Effect.filterOrFail((pids) => pids.length === 1, () => new Error("no LISTEN connection after the loss")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      expect(listenerAfter[0]).not.toBe(listenerBefore[0])
    }), { timeout: 120_000 })
})
