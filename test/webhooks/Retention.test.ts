import { MachineId, Snowflake } from "@effect/cluster"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule, TestClock, TestContext } from "effect"
import { randomUUID } from "node:crypto"
import { DeliveryRetention, retentionBatchSize } from "../../src/webhooks/Retention.ts"
import { testOperatorToken, TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { createSubscription } from "./DeliveryFixtures.ts"

// Sweeps run at start-up only, and every pending row below is due in 2100,
// so the delivery engine leaves the inserted rows alone. The retention
// service is also provided to the tests, so they can prune at a chosen time.
const SuiteLive = DeliveryRetention.Default.pipe(
  Layer.provideMerge(TestServerLive({ sweepInterval: Duration.hours(1) })),
  Layer.provideMerge(FetchHttpClient.layer)
)

/** Time at which the tests prune. Rows are dated relative to it. */
const now = new Date("2030-06-01T12:00:00.000Z")
const daysBefore = (days: number, from: Date = now) => new Date(from.getTime() - days * 86_400_000)

type Subscription = { readonly companyId: string; readonly subscriptionId: string }

/** Inserts an event created at `createdAt` and returns its id. */
const insertEvent = (subscription: Subscription, createdAt: Date) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = randomUUID()
    yield* sql`
      INSERT INTO events (id, company_id, kind, natural_key, occurred_at, created_at)
      VALUES (${id}, ${subscription.companyId}, 'session.completed', ${id}, ${createdAt}, ${createdAt})`
    return id
  }).pipe(Effect.orDie)

interface DeliveryInput {
  readonly status: "pending" | "succeeded" | "failed" | "cancelled"
  readonly createdAt: Date
  readonly deliveredAt?: Date
  readonly eventId?: string
}

/** Inserts a delivery with one attempt and returns its row key. */
const insertDelivery = (subscription: Subscription, input: DeliveryInput) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const deliveryId = `test.event:${randomUUID()}:${subscription.subscriptionId}`
    const nextAttemptAt = input.status === "pending" ? new Date("2100-01-01T00:00:00.000Z") : null
    const [row] = yield* sql<{ id: string }>`
      INSERT INTO webhook_deliveries
        (delivery_id, subscription_id, company_id, event_id, event_kind, body, status, attempts,
         next_attempt_at, event_at, created_at, delivered_at)
      VALUES (${deliveryId}, ${subscription.subscriptionId}, ${subscription.companyId}, ${input.eventId ?? null},
        'session.completed', '{}', ${input.status}, 1, ${nextAttemptAt}, ${input.createdAt}, ${input.createdAt},
        ${input.deliveredAt ?? null})
      RETURNING id::text AS id`
    yield* sql`
      INSERT INTO webhook_attempts (delivery_pk, attempt, started_at, duration_ms, status_code, outcome)
      VALUES (${row!.id}::bigint, 1, ${input.createdAt}, 12, 500, 'retry')`
    return row!.id
  }).pipe(Effect.orDie)

const deliveryExists = (id: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) => sql<{ count: number }>`SELECT count(*)::int AS count FROM webhook_deliveries WHERE id = ${id}::bigint`),
    Effect.map((rows) => rows[0]!.count === 1),
    Effect.orDie
  )

const attemptCount = (id: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) => sql<{ count: number }>`SELECT count(*)::int AS count FROM webhook_attempts WHERE delivery_pk = ${id}::bigint`),
    Effect.map((rows) => rows[0]!.count),
    Effect.orDie
  )

const eventExists = (id: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) => sql<{ count: number }>`SELECT count(*)::int AS count FROM events WHERE id = ${id}`),
    Effect.map((rows) => rows[0]!.count === 1),
    Effect.orDie
  )

/**
 * Inserts a cluster message created at `createdAt`, with one reply, on a
 * shard group that no runner owns, so the cluster never reads it.
 */
const insertClusterMessage = (createdAt: Date, processed: boolean, sequence: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = String(Snowflake.make({ timestamp: createdAt.getTime(), machineId: MachineId.make(7), sequence }))
    const replyId = String(Snowflake.make({ timestamp: createdAt.getTime(), machineId: MachineId.make(8), sequence }))
    yield* sql`
      INSERT INTO cluster_messages (id, message_id, shard_id, entity_type, entity_id, kind, tag, payload, processed, request_id)
      VALUES (${id}::bigint, ${`retention-test-${id}`}, 'retention-test:1', 'RetentionTest', 'entity-1', 0, 'Ping', '{}',
        ${processed}, ${id}::bigint)`
    yield* sql`
      INSERT INTO cluster_replies (id, kind, request_id, payload, sequence)
      VALUES (${replyId}::bigint, 0, ${id}::bigint, '{}', NULL)`
    return id
  }).pipe(Effect.orDie)

const clusterRowCounts = (messageId: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) =>
      sql<{ messages: number; replies: number }>`
        SELECT
          (SELECT count(*)::int FROM cluster_messages WHERE id = ${messageId}::bigint) AS messages,
          (SELECT count(*)::int FROM cluster_replies WHERE request_id = ${messageId}::bigint) AS replies`
    ),
    Effect.map((rows) => rows[0]!),
    Effect.orDie
  )

/** Posts to the cron route as the operator. */
const postCron = (job: string) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const request = HttpClientRequest.bearerToken(HttpClientRequest.post(`${baseUrl}/api/cron/${job}`), testOperatorToken)
    const response = yield* HttpClient.execute(request)
    return { status: response.status, body: yield* response.json }
  })

const createTestSubscription = createSubscription("http://127.0.0.1:9/hook")

layer(SuiteLive, { excludeTestServices: true, timeout: "120 seconds" })("DeliveryRetention", (it) => {
  it.effect("deletes old finished deliveries only", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const subscription = yield* createTestSubscription

      const oldSucceeded = yield* insertDelivery(subscription, {
        status: "succeeded",
        createdAt: daysBefore(40),
        deliveredAt: daysBefore(31)
      })
      const oldFailed = yield* insertDelivery(subscription, { status: "failed", createdAt: daysBefore(31) })
      const oldCancelled = yield* insertDelivery(subscription, { status: "cancelled", createdAt: daysBefore(45) })
      // Queued 40 days ago but delivered 10 days ago: it ages from delivery.
      const recentlyDelivered = yield* insertDelivery(subscription, {
        status: "succeeded",
        createdAt: daysBefore(40),
        deliveredAt: daysBefore(10)
      })
      const recentFailed = yield* insertDelivery(subscription, { status: "failed", createdAt: daysBefore(29) })
      const recentCancelled = yield* insertDelivery(subscription, { status: "cancelled", createdAt: daysBefore(1) })
      const oldPending = yield* insertDelivery(subscription, { status: "pending", createdAt: daysBefore(400) })
      const recentPending = yield* insertDelivery(subscription, { status: "pending", createdAt: daysBefore(1) })

      const counts = yield* retention.pruneAt(now)

      expect(counts.deliveries).toBeGreaterThanOrEqual(3)
      for (const id of [oldSucceeded, oldFailed, oldCancelled]) {
        expect(yield* deliveryExists(id)).toBe(false)
        expect(yield* attemptCount(id)).toBe(0)
      }
      for (const id of [recentlyDelivered, recentFailed, recentCancelled, oldPending, recentPending]) {
        expect(yield* deliveryExists(id)).toBe(true)
        expect(yield* attemptCount(id)).toBe(1)
      }
    }))

  it.effect("deletes old unreferenced events only", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const subscription = yield* createTestSubscription

      const oldUnreferenced = yield* insertEvent(subscription, daysBefore(31))
      const recentUnreferenced = yield* insertEvent(subscription, daysBefore(29))
      const oldWithPending = yield* insertEvent(subscription, daysBefore(60))
      const oldWithRecentDelivery = yield* insertEvent(subscription, daysBefore(60))
      const oldWithOldDelivery = yield* insertEvent(subscription, daysBefore(60))
      yield* insertDelivery(subscription, { status: "pending", createdAt: daysBefore(60), eventId: oldWithPending })
      yield* insertDelivery(subscription, {
        status: "succeeded",
        createdAt: daysBefore(60),
        deliveredAt: daysBefore(2),
        eventId: oldWithRecentDelivery
      })
      // Its only delivery is past retention too, so both go in the same run.
      yield* insertDelivery(subscription, { status: "failed", createdAt: daysBefore(60), eventId: oldWithOldDelivery })

      const counts = yield* retention.pruneAt(now)

      expect(counts.events).toBeGreaterThanOrEqual(2)
      expect(yield* eventExists(oldUnreferenced)).toBe(false)
      expect(yield* eventExists(oldWithOldDelivery)).toBe(false)
      expect(yield* eventExists(recentUnreferenced)).toBe(true)
      expect(yield* eventExists(oldWithPending)).toBe(true)
      expect(yield* eventExists(oldWithRecentDelivery)).toBe(true)
    }))

  it.effect("deletes more than one batch", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const sql = yield* SqlClient.SqlClient
      const subscription = yield* createTestSubscription
      const rows = retentionBatchSize + 3
      yield* sql`
        INSERT INTO webhook_deliveries
          (delivery_id, subscription_id, company_id, event_kind, body, status, event_at, created_at, delivered_at)
        SELECT 'test.event:batch-' || n || ':' || ${subscription.subscriptionId}, ${subscription.subscriptionId},
          ${subscription.companyId}, 'session.completed', '{}', 'succeeded', ${daysBefore(50)}, ${daysBefore(50)},
          ${daysBefore(50)}
        FROM generate_series(1, ${rows}) AS n`
      const pendingDelivery = yield* insertDelivery(subscription, { status: "pending", createdAt: daysBefore(50) })

      const counts = yield* retention.pruneAt(now)

      expect(counts.deliveries).toBeGreaterThanOrEqual(rows)
      const [left] = yield* sql<{ count: number }>`
        SELECT count(*)::int AS count FROM webhook_deliveries WHERE subscription_id = ${subscription.subscriptionId}`
      expect(left!.count).toBe(1)
      expect(yield* deliveryExists(pendingDelivery)).toBe(true)
    }))

  it.effect("smaller batch size still deletes all", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const subscription = yield* createTestSubscription
      const ids = []
      for (let i = 0; i < 5; i++) {
        ids.push(yield* insertDelivery(subscription, { status: "cancelled", createdAt: daysBefore(90) }))
      }

      const counts = yield* retention.pruneAt(now, 2)

      expect(counts.deliveries).toBeGreaterThanOrEqual(5)
      for (const id of ids) expect(yield* deliveryExists(id)).toBe(false)
    }))

  it.effect("deletes processed cluster messages after an hour", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const twoHoursAgo = new Date(now.getTime() - 2 * 3_600_000)
      const tenMinutesAgo = new Date(now.getTime() - 10 * 60_000)
      const oldProcessed = yield* insertClusterMessage(twoHoursAgo, true, 1)
      const oldUnprocessed = yield* insertClusterMessage(twoHoursAgo, false, 2)
      const recentProcessed = yield* insertClusterMessage(tenMinutesAgo, true, 3)

      const counts = yield* retention.pruneAt(now)

      expect(counts.clusterMessages).toBeGreaterThanOrEqual(1)
      expect(counts.clusterReplies).toBeGreaterThanOrEqual(1)
      expect(yield* clusterRowCounts(oldProcessed)).toEqual({ messages: 0, replies: 0 })
      expect(yield* clusterRowCounts(oldUnprocessed)).toEqual({ messages: 1, replies: 1 })
      expect(yield* clusterRowCounts(recentProcessed)).toEqual({ messages: 1, replies: 1 })
    }))

  it.effect("prune reads the time from Clock", () =>
    Effect.gen(function*() {
      const retention = yield* DeliveryRetention
      const subscription = yield* createTestSubscription
      const aged = yield* insertDelivery(subscription, { status: "failed", createdAt: daysBefore(31) })
      const fresh = yield* insertDelivery(subscription, { status: "failed", createdAt: daysBefore(29) })

      // At `now` minus two days, the 31-day-old row is only 29 days old.
      yield* TestClock.setTime(daysBefore(2).getTime()).pipe(
        Effect.zipRight(retention.prune),
        Effect.provide(TestContext.TestContext)
      )
      expect(yield* deliveryExists(aged)).toBe(true)

      yield* TestClock.setTime(now.getTime()).pipe(
        Effect.zipRight(retention.prune),
        Effect.provide(TestContext.TestContext)
      )
      expect(yield* deliveryExists(aged)).toBe(false)
      expect(yield* deliveryExists(fresh)).toBe(true)
    }))

  it.effect("POST /api/cron/prune-deliveries prunes", () =>
    Effect.gen(function*() {
      const subscription = yield* createTestSubscription
      // The job runs on the real clock, so these rows are dated from today.
      const today = new Date()
      const old = yield* insertDelivery(subscription, {
        status: "succeeded",
        createdAt: daysBefore(40, today),
        deliveredAt: daysBefore(35, today)
      })
      const recent = yield* insertDelivery(subscription, {
        status: "succeeded",
        createdAt: daysBefore(3, today),
        deliveredAt: daysBefore(3, today)
      })

      const response = yield* postCron("prune-deliveries")

      expect(response.status).toBe(202)
      expect(response.body).toEqual({ job: "prune-deliveries", status: "started" })
      yield* deliveryExists(old).pipe(
        Effect.filterOrFail((exists) => !exists, () => new Error(`Delivery ${old} was not pruned`)),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }),
        Effect.orDie
      )
      expect(yield* deliveryExists(recent)).toBe(true)
    }))
})
