import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { BadRequest, Conflict, NotFound } from "../../src/ApiErrors.ts"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { DeliveryLog } from "../../src/webhooks/DeliveryLog.ts"
import { Subscriptions } from "../../src/webhooks/Subscriptions.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"

const ServicesLive = Layer.mergeAll(Subscriptions.Default, DeliveryLog.Default).pipe(
  Layer.provideMerge(TestDatabaseLive),
  Layer.provide(AppConfig.layerTest())
)

/** Returns the error of a failed effect, or fails the test when it succeeded. */
const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a failure, got ${Exit.isSuccess(exit) ? "a success" : "a defect"}`))

interface DeliveryFixture {
  readonly subscriptionId: string
  readonly companyId: string
  readonly deliveryId: string
  readonly status: "pending" | "succeeded" | "failed" | "cancelled"
  /** `created_at` as a PostgreSQL timestamp literal, with microseconds where a test needs them. */
  readonly createdAt: string
  readonly body?: string
  readonly attempts?: number
  readonly lastStatusCode?: number
  readonly lastError?: string
}

/** Inserts one delivery row the way the outbox and the sender leave it, and returns its primary key. */
const insertDelivery = (fixture: DeliveryFixture) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string }>`
      INSERT INTO webhook_deliveries (
        delivery_id, subscription_id, company_id, event_kind, body, status, attempts,
        last_status_code, last_error, next_attempt_at, event_at, created_at, delivered_at
      ) VALUES (
        ${fixture.deliveryId}, ${fixture.subscriptionId}, ${fixture.companyId}, 'badge.awarded',
        ${fixture.body ?? `{"event_kind":"badge.awarded","delivery_id":"${fixture.deliveryId}"}`},
        ${fixture.status}, ${fixture.attempts ?? 0}, ${fixture.lastStatusCode ?? null}, ${fixture.lastError ?? null},
        ${fixture.status === "pending" ? sql`${fixture.createdAt}::timestamptz` : sql`NULL`},
        ${fixture.createdAt}::timestamptz, ${fixture.createdAt}::timestamptz,
        ${fixture.status === "succeeded" ? sql`${fixture.createdAt}::timestamptz + interval '2 seconds'` : sql`NULL`}
      ) RETURNING id::text AS id`.pipe(Effect.map((rows) => rows[0]!.id)))

/** Creates a tenant with one subscription. */
const tenantWithSubscription = (name: string) =>
  Effect.gen(function*() {
    const subscriptions = yield* Subscriptions
    const { companyId } = yield* createTenant(name)
    const subscription = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })
    return { companyId, subscriptionId: subscription.id }
  })

describe("DeliveryLog", () => {
  it.layer(ServicesLive)((it) => {
    it.effect("list filters by status", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const base = { companyId, subscriptionId }
        yield* insertDelivery({ ...base, deliveryId: "d1", status: "succeeded", createdAt: "2026-05-19T10:00:00Z" })
        yield* insertDelivery({ ...base, deliveryId: "d2", status: "failed", createdAt: "2026-05-19T10:01:00Z" })
        yield* insertDelivery({ ...base, deliveryId: "d3", status: "pending", createdAt: "2026-05-19T10:02:00Z" })
        yield* insertDelivery({ ...base, deliveryId: "d4", status: "cancelled", createdAt: "2026-05-19T10:03:00Z" })
        yield* insertDelivery({ ...base, deliveryId: "d5", status: "failed", createdAt: "2026-05-19T10:04:00Z" })

        const ids = (status?: string) =>
          log.list(companyId, subscriptionId, status === undefined ? { limit: 20 } : { limit: 20, status }).pipe(
            Effect.map((page) => page.data.map((delivery) => delivery.delivery_id))
          )
        expect(yield* ids()).toEqual(["d5", "d4", "d3", "d2", "d1"])
        expect(yield* ids("failed")).toEqual(["d5", "d2"])
        expect(yield* ids("pending")).toEqual(["d3"])
        expect(yield* ids("succeeded")).toEqual(["d1"])

        for (const status of ["cancelled", "done", "FAILED", ""]) {
          const error = yield* failureOf(ids(status))
          expect(error, status).toBeInstanceOf(BadRequest)
          expect((error as BadRequest).field, status).toBe("status")
          expect(error.message, status).toContain("status")
        }
      }))

    it.effect("list encodes every field", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        yield* insertDelivery({
          companyId,
          subscriptionId,
          deliveryId: "badge.awarded:1",
          status: "failed",
          createdAt: "2026-05-19T10:00:00.123456Z",
          attempts: 6,
          lastStatusCode: 503,
          lastError: "Service Unavailable"
        })
        yield* insertDelivery({
          companyId,
          subscriptionId,
          deliveryId: "badge.awarded:2",
          status: "succeeded",
          createdAt: "2026-05-19T11:00:00Z",
          attempts: 1,
          lastStatusCode: 200
        })

        const page = yield* log.list(companyId, subscriptionId, { limit: 20 })
        expect(page.next_cursor).toBeNull()
        expect(page.data[1]).toEqual({
          delivery_id: "badge.awarded:1",
          subscription_id: subscriptionId,
          event_kind: "badge.awarded",
          status: "failed",
          attempts: 6,
          last_status_code: 503,
          last_error: "Service Unavailable",
          next_attempt_at: null,
          created_at: new Date("2026-05-19T10:00:00.123Z"),
          delivered_at: null
        })
        expect(page.data[0]!.delivered_at).toEqual(new Date("2026-05-19T11:00:02.000Z"))
        expect(page.data[0]!.last_error).toBeNull()
      }))

    it.effect("list pages through equal milliseconds", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const base = { companyId, subscriptionId }
        // Rows that differ only in microseconds share the millisecond that a cursor carries.
        const createdAts = [
          "2026-05-19T10:00:00.100100Z",
          "2026-05-19T10:00:00.100900Z",
          "2026-05-19T10:00:00.100500Z",
          "2026-05-19T10:00:00.200000Z",
          "2026-05-19T10:00:00.100300Z",
          "2026-05-19T09:00:00.000000Z",
          "2026-05-19T10:00:00.300000Z"
        ]
        for (const [index, createdAt] of createdAts.entries()) {
          yield* insertDelivery({ ...base, deliveryId: `d${index}`, status: "succeeded", createdAt })
        }

        const seen: Array<string> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = yield* log.list(companyId, subscriptionId, cursor === undefined ? { limit: 2 } : { limit: 2, cursor })
          expect(page.data.length).toBeLessThanOrEqual(2)
          seen.push(...page.data.map((delivery) => delivery.delivery_id))
          cursor = page.next_cursor ?? undefined
          pages++
        } while (cursor !== undefined && pages < 10)

        expect(pages).toBe(4)
        // Newest first. Within one millisecond the later insert, with the higher primary key, comes first.
        expect(seen).toEqual(["d6", "d3", "d4", "d2", "d1", "d0", "d5"])

        const error = yield* failureOf(log.list(companyId, subscriptionId, { limit: 2, cursor: "bm90LWEtY3Vyc29y" }))
        expect((error as BadRequest).field).toBe("cursor")
      }))

    it.effect("detail has payload and attempts", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const sql = yield* SqlClient.SqlClient
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const deliveryId = `scorecard.finalized:7c3f0b5e-4a1d-4c8e-9d2f-0a1b2c3d4e5f:${subscriptionId}`
        const body = JSON.stringify({ event_kind: "session.scorecard_finalized", company_id: companyId, delivery_id: deliveryId })
        const pk = yield* insertDelivery({
          companyId,
          subscriptionId,
          deliveryId,
          status: "succeeded",
          createdAt: "2026-05-19T10:00:00Z",
          body,
          attempts: 3,
          lastStatusCode: 200
        })
        yield* sql`
          INSERT INTO webhook_attempts (delivery_pk, attempt, started_at, duration_ms, status_code, response_body, error, outcome)
          VALUES
            (${pk}::bigint, 3, '2026-05-19T10:06:00.250Z', 41, 200, 'ok', NULL, 'succeeded'),
            (${pk}::bigint, 1, '2026-05-19T10:00:00.000Z', 8000, NULL, NULL, 'timed out after 8 seconds', 'retry'),
            (${pk}::bigint, 2, '2026-05-19T10:01:00.000Z', 120, 502, 'Bad Gateway', NULL, 'retry')`

        const detail = yield* log.get(companyId, subscriptionId, deliveryId)
        expect(detail.delivery_id).toBe(deliveryId)
        expect(detail.status).toBe("succeeded")
        expect(detail.payload).toEqual(JSON.parse(body))
        expect(detail.attempts.map((attempt) => attempt.attempt)).toEqual([1, 2, 3])
        expect(detail.attempts[0]).toEqual({
          attempt: 1,
          started_at: new Date("2026-05-19T10:00:00.000Z"),
          duration_ms: 8000,
          status_code: null,
          response_body: null,
          error: "timed out after 8 seconds",
          outcome: "retry"
        })
        expect(detail.attempts[1]).toMatchObject({ status_code: 502, response_body: "Bad Gateway", outcome: "retry" })
        expect(detail.attempts[2]).toMatchObject({ status_code: 200, duration_ms: 41, outcome: "succeeded" })

        const unknown = yield* failureOf(log.get(companyId, subscriptionId, "scorecard.finalized:unknown"))
        expect(unknown).toBeInstanceOf(NotFound)
      }))

    it.effect("detail without attempts is empty list", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const subscriptions = yield* Subscriptions
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const { delivery_id } = yield* subscriptions.sendTest(companyId, subscriptionId)

        const detail = yield* log.get(companyId, subscriptionId, delivery_id)
        expect(detail.status).toBe("pending")
        expect(detail.attempts).toEqual([])
        expect(detail.next_attempt_at).toBeInstanceOf(Date)
        expect(detail.payload).toMatchObject({ event_kind: "session.scorecard_finalized", delivery_id })
      }))

    it.effect("retry requeues a failed delivery", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const sql = yield* SqlClient.SqlClient
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const deliveryId = `badge.awarded:${subscriptionId}`
        // Spacing and key order that a re-serialization would change.
        const body = `{"event_kind":"badge.awarded", "z":1,"a":"é"}`
        yield* insertDelivery({
          companyId,
          subscriptionId,
          deliveryId,
          status: "failed",
          createdAt: "2026-05-19T10:00:00Z",
          body,
          attempts: 6,
          lastStatusCode: 500
        })

        expect(yield* log.retry(companyId, subscriptionId, deliveryId)).toEqual({ delivery_id: deliveryId })

        const rows = yield* sql<{ delivery_id: string; body: string; status: string; next_attempt_at: Date | null }>`
          SELECT delivery_id, body, status, next_attempt_at FROM webhook_deliveries WHERE subscription_id = ${subscriptionId}`
        expect(rows).toHaveLength(1)
        expect(rows[0]!.delivery_id).toBe(deliveryId)
        expect(rows[0]!.body).toBe(body)
        expect(rows[0]!.status).toBe("pending")
        expect(rows[0]!.next_attempt_at).toBeInstanceOf(Date)

        const again = yield* failureOf(log.retry(companyId, subscriptionId, deliveryId))
        expect(again).toBeInstanceOf(Conflict)
        expect(again.message).toContain("pending")
      }))

    it.effect("retry of a non-failed delivery conflicts", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        const base = { companyId, subscriptionId, createdAt: "2026-05-19T10:00:00Z" }
        yield* insertDelivery({ ...base, deliveryId: "ok", status: "succeeded" })
        yield* insertDelivery({ ...base, deliveryId: "gone", status: "cancelled" })

        for (const [deliveryId, status] of [["ok", "succeeded"], ["gone", "cancelled"]] as const) {
          const error = yield* failureOf(log.retry(companyId, subscriptionId, deliveryId))
          expect(error, deliveryId).toBeInstanceOf(Conflict)
          expect(error.message, deliveryId).toContain(status)
        }
        const detail = yield* log.get(companyId, subscriptionId, "ok")
        expect(detail.status).toBe("succeeded")

        const unknown = yield* failureOf(log.retry(companyId, subscriptionId, "missing"))
        expect(unknown).toBeInstanceOf(NotFound)
      }))

    it.effect("another tenant's deliveries are not found", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const owner = yield* tenantWithSubscription("Acme")
        const other = yield* tenantWithSubscription("Globex")
        yield* insertDelivery({ ...owner, deliveryId: "d1", status: "failed", createdAt: "2026-05-19T10:00:00Z" })

        const attempts: ReadonlyArray<Effect.Effect<unknown, BadRequest | NotFound | Conflict>> = [
          log.list(other.companyId, owner.subscriptionId, { limit: 20 }),
          log.get(other.companyId, owner.subscriptionId, "d1"),
          log.retry(other.companyId, owner.subscriptionId, "d1"),
          // The other tenant's own subscription id does not reach the owner's delivery either.
          log.get(other.companyId, other.subscriptionId, "d1"),
          log.retry(other.companyId, other.subscriptionId, "d1")
        ]
        for (const attempt of attempts) {
          expect(yield* failureOf(attempt)).toBeInstanceOf(NotFound)
        }
        expect((yield* log.get(owner.companyId, owner.subscriptionId, "d1")).status).toBe("failed")
      }))

    it.effect("deleted subscription's log is not found", () =>
      Effect.gen(function*() {
        const log = yield* DeliveryLog
        const subscriptions = yield* Subscriptions
        const { companyId, subscriptionId } = yield* tenantWithSubscription("Acme")
        yield* insertDelivery({ companyId, subscriptionId, deliveryId: "d1", status: "failed", createdAt: "2026-05-19T10:00:00Z" })
        yield* subscriptions.remove(companyId, subscriptionId)

        expect(yield* failureOf(log.list(companyId, subscriptionId, { limit: 20 }))).toBeInstanceOf(NotFound)
        expect(yield* failureOf(log.get(companyId, subscriptionId, "d1"))).toBeInstanceOf(NotFound)
        expect(yield* failureOf(log.retry(companyId, subscriptionId, "d1"))).toBeInstanceOf(NotFound)
      }))
  })
})

describe("Delivery log routes", () => {
  it.layer(TestServerLive())((it) => {
    /** Creates a tenant and one subscription through the API, and returns the token and the subscription path. */
    const subscribe = Effect.gen(function*() {
      const tenant = yield* createTenant("Acme")
      const created = yield* sendAs(tenant.token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
      return { ...tenant, subscriptionId: created.body.id as string, path: `/v1/webhooks/${created.body.id}` }
    })

    it.effect("test delivery is found by its id", () =>
      Effect.gen(function*() {
        const { companyId, token, subscriptionId, path } = yield* subscribe

        const queued = yield* sendAs(token, "POST", `${path}/test`)
        expect(queued.status).toBe(202)
        const deliveryId: string = queued.body.delivery_id
        expect(deliveryId).toMatch(/^scorecard\.finalized:[0-9a-f-]{36}:sub_[0-9A-Za-z]{24}$/)

        // The delivery engine runs in the test server and may be sending this
        // delivery meanwhile, so only fields that it never changes are compared.
        const raw = yield* sendAs(token, "GET", `${path}/deliveries/${deliveryId}`)
        const encoded = yield* sendAs(token, "GET", `${path}/deliveries/${encodeURIComponent(deliveryId)}`)
        expect(raw.status).toBe(200)
        expect(encoded.status).toBe(200)
        expect(raw.body.delivery_id).toBe(deliveryId)
        expect(encoded.body.delivery_id).toBe(deliveryId)
        expect(encoded.body.payload).toEqual(raw.body.payload)
        expect(raw.body.subscription_id).toBe(subscriptionId)
        expect(raw.body.event_kind).toBe("session.scorecard_finalized")
        expect(raw.body.payload.delivery_id).toBe(deliveryId)
        expect(raw.body.payload.company_id).toBe(companyId)
        expect(raw.body.payload.scorecard.headline).toBe("Test event from Sales Lab")

        const client = yield* apiClient(token)
        const typed = yield* client.webhooks.getDelivery({ path: { id: subscriptionId, delivery_id: deliveryId } })
        expect(typed.delivery_id).toBe(deliveryId)

        const listed = yield* sendAs(token, "GET", `${path}/deliveries`)
        expect(listed.status).toBe(200)
        expect(listed.body.data.map((delivery: { delivery_id: string }) => delivery.delivery_id)).toEqual([deliveryId])
        expect(listed.body.data[0]).not.toHaveProperty("payload")
        expect(listed.body.data[0].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      }))

    it.effect("delivery detail lists attempts", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { companyId, token, subscriptionId, path } = yield* subscribe
        // A finished delivery, which the delivery engine leaves alone.
        const deliveryId = `scorecard.finalized:7c3f0b5e-4a1d-4c8e-9d2f-0a1b2c3d4e5f:${subscriptionId}`
        const body = JSON.stringify({ event_kind: "session.scorecard_finalized", company_id: companyId, delivery_id: deliveryId })
        const pk = yield* insertDelivery({
          companyId,
          subscriptionId,
          deliveryId,
          status: "succeeded",
          createdAt: "2026-05-19T10:00:00.123Z",
          body,
          attempts: 2,
          lastStatusCode: 200
        })
        yield* sql`
          INSERT INTO webhook_attempts (delivery_pk, attempt, started_at, duration_ms, status_code, response_body, error, outcome)
          VALUES
            (${pk}::bigint, 2, '2026-05-19T10:01:00.000Z', 41, 200, 'ok', NULL, 'succeeded'),
            (${pk}::bigint, 1, '2026-05-19T10:00:00.500Z', 35, 503, 'busy', NULL, 'retry')`

        const detail = yield* sendAs(token, "GET", `${path}/deliveries/${deliveryId}`)
        expect(detail.status).toBe(200)
        expect(detail.body).toEqual({
          delivery_id: deliveryId,
          subscription_id: subscriptionId,
          event_kind: "badge.awarded",
          status: "succeeded",
          last_status_code: 200,
          last_error: null,
          next_attempt_at: null,
          created_at: "2026-05-19T10:00:00.123Z",
          delivered_at: "2026-05-19T10:00:02.123Z",
          payload: JSON.parse(body),
          attempts: [
            {
              attempt: 1,
              started_at: "2026-05-19T10:00:00.500Z",
              duration_ms: 35,
              status_code: 503,
              response_body: "busy",
              error: null,
              outcome: "retry"
            },
            {
              attempt: 2,
              started_at: "2026-05-19T10:01:00.000Z",
              duration_ms: 41,
              status_code: 200,
              response_body: "ok",
              error: null,
              outcome: "succeeded"
            }
          ]
        })

        const unknown = yield* sendAs(token, "GET", `${path}/deliveries/scorecard.finalized:nope:${subscriptionId}`)
        expect(unknown.status).toBe(404)
        expect(unknown.body._tag).toBe("NotFound")
      }))

    it.effect("list query is validated", () =>
      Effect.gen(function*() {
        const { token, path } = yield* subscribe

        const badStatus = yield* sendAs(token, "GET", `${path}/deliveries?status=exploded`)
        expect(badStatus.status).toBe(400)
        expect(badStatus.body._tag).toBe("BadRequest")
        expect(badStatus.body.message).toContain("status")

        const badCursor = yield* sendAs(token, "GET", `${path}/deliveries?cursor=nope`)
        expect(badCursor.status).toBe(400)
        expect(badCursor.body.message).toContain("cursor")

        const badLimit = yield* sendAs(token, "GET", `${path}/deliveries?limit=0`)
        expect(badLimit.status).toBe(400)

        const filtered = yield* sendAs(token, "GET", `${path}/deliveries?status=failed&limit=5`)
        expect(filtered.status).toBe(200)
        expect(filtered.body).toEqual({ data: [], next_cursor: null })
      }))

    it.effect("retry is 202 for failed, else 409", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { companyId, token, subscriptionId, path } = yield* subscribe
        const base = { companyId, subscriptionId, createdAt: "2026-05-19T10:00:00Z" }
        const body = `{"event_kind":"badge.awarded","delivery_id":"badge.awarded:x"}`
        yield* insertDelivery({ ...base, deliveryId: "badge.awarded:x", status: "failed", body, attempts: 6 })
        yield* insertDelivery({ ...base, deliveryId: "badge.awarded:y", status: "succeeded", attempts: 1 })
        // Paused, so that the delivery engine in the test server leaves the requeued delivery pending.
        expect((yield* sendAs(token, "PATCH", path, { status: "paused" })).status).toBe(200)

        const retried = yield* sendAs(token, "POST", `${path}/deliveries/badge.awarded:x/retry`)
        expect(retried.status).toBe(202)
        expect(retried.body).toEqual({ delivery_id: "badge.awarded:x" })
        const rows = yield* sql<{ status: string; body: string }>`
          SELECT status, body FROM webhook_deliveries WHERE subscription_id = ${subscriptionId} AND delivery_id = 'badge.awarded:x'`
        expect(rows).toEqual([{ status: "pending", body }])

        const succeeded = yield* sendAs(token, "POST", `${path}/deliveries/badge.awarded:y/retry`)
        expect(succeeded.status).toBe(409)
        expect(succeeded.body._tag).toBe("Conflict")
        expect(succeeded.body.message).toContain("succeeded")

        const unknown = yield* sendAs(token, "POST", `${path}/deliveries/badge.awarded:z/retry`)
        expect(unknown.status).toBe(404)
      }))
  })
})
