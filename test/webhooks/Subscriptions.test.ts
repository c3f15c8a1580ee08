import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schedule, Stream, TestClock, TestServices } from "effect"
import { BadRequest, Conflict, NotFound } from "../../src/ApiErrors.ts"
import { eventKinds } from "../../src/events/EventKinds.ts"
import { deliveryChannel } from "../../src/webhooks/Outbox.ts"
import { Subscriptions, validateUrl } from "../../src/webhooks/Subscriptions.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { createTenant } from "../support/Tenants.ts"

const ServicesLive = Subscriptions.Default.pipe(Layer.provideMerge(TestDatabaseLive))

const listParams = { limit: 20 }

/** Returns the error of a failed effect, or fails the test when it succeeded. */
const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a failure, got ${Exit.isSuccess(exit) ? "a success" : "a defect"}`))

const deliveryRows = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; status: string; event_kind: string; body: string; company_id: string }>`
      SELECT delivery_id, status, event_kind, body, company_id FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`)

describe("Subscriptions", () => {
  it.effect("validateUrl rejects what is not absolute http(s)", () =>
    Effect.gen(function*() {
      const rejected = ["", "   ", "/webhooks", "example.com/hook", "ftp://example.com/hook", "javascript:alert(1)",
        "mailto:ops@example.com", `https://example.com/${"a".repeat(2048)}`]
      for (const url of rejected) {
        const error = yield* failureOf(validateUrl(url))
        expect(error, url).toBeInstanceOf(BadRequest)
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain("url")
      }
      expect(yield* validateUrl("https://example.com/hook?x=1")).toBe("https://example.com/hook?x=1")
      expect(yield* validateUrl("http://127.0.0.1:8080/hook")).toBe("http://127.0.0.1:8080/hook")
    }))

  it.layer(ServicesLive)((it) => {
    it.effect("create returns the secret once", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        yield* TestClock.setTime(Date.parse("2026-05-19T13:42:08.123Z"))

        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook" })
        expect(created.id).toMatch(/^sub_[0-9A-Za-z]{24}$/)
        expect(created.secret).toMatch(/^sl_whsec_[0-9A-Za-z]{40}$/)
        expect(created.url).toBe("https://example.com/hook")
        expect(created.event_kinds).toEqual([])
        expect(created.description).toBeNull()
        expect(created.status).toBe("active")
        expect(created.created_at.toISOString()).toBe("2026-05-19T13:42:08.123Z")
        expect(created.updated_at.toISOString()).toBe("2026-05-19T13:42:08.123Z")

        const fetched = yield* subscriptions.get(companyId, created.id)
        expect(fetched).not.toHaveProperty("secret")
        const { secret: _secret, ...withoutSecret } = created
        expect(fetched).toEqual(withoutSecret)

        const page = yield* subscriptions.list(companyId, listParams)
        expect(page.data).toEqual([withoutSecret])
        expect(page.data[0]).not.toHaveProperty("secret")
      }))

    it.effect("create keeps event kinds and description", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")

        const created = yield* subscriptions.create(companyId, {
          url: "https://example.com/hook",
          event_kinds: ["badge.awarded", "session.completed", "badge.awarded"],
          description: "Warehouse loader"
        })
        expect(created.event_kinds).toEqual(["badge.awarded", "session.completed"])
        expect(created.description).toBe("Warehouse loader")
      }))

    it.effect("unknown event kind lists valid ones", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")

        const error = yield* failureOf(subscriptions.create(companyId, {
          url: "https://example.com/hook",
          event_kinds: ["session.completed", "session.exploded"]
        }))
        expect(error).toBeInstanceOf(BadRequest)
        expect((error as BadRequest).field).toBe("event_kinds")
        expect(error.message).toContain("session.exploded")
        for (const kind of eventKinds) expect(error.message).toContain(kind)

        const page = yield* subscriptions.list(companyId, listParams)
        expect(page.data).toEqual([])
      }))

    it.effect("description over 500 characters is rejected", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")

        const error = yield* failureOf(subscriptions.create(companyId, {
          url: "https://example.com/hook",
          description: "d".repeat(501)
        }))
        expect(error).toBeInstanceOf(BadRequest)
        expect((error as BadRequest).field).toBe("description")
        const accepted = yield* subscriptions.create(companyId, { url: "https://example.com/hook", description: "d".repeat(500) })
        expect(accepted.description).toHaveLength(500)
      }))

    it.effect("list pages newest first", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        yield* TestClock.setTime(Date.parse("2026-05-19T13:00:00.000Z"))
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) {
          ids.push((yield* subscriptions.create(companyId, { url: `https://example.com/hook/${i}` })).id)
          yield* TestClock.adjust("1 second")
        }

        const first = yield* subscriptions.list(companyId, { limit: 2 })
        expect(first.data.map((subscription) => subscription.id)).toEqual([ids[4], ids[3]])
        expect(first.next_cursor).not.toBeNull()
        const second = yield* subscriptions.list(companyId, { limit: 2, cursor: first.next_cursor! })
        expect(second.data.map((subscription) => subscription.id)).toEqual([ids[2], ids[1]])
        const third = yield* subscriptions.list(companyId, { limit: 2, cursor: second.next_cursor! })
        expect(third.data.map((subscription) => subscription.id)).toEqual([ids[0]])
        expect(third.next_cursor).toBeNull()

        const error = yield* failureOf(subscriptions.list(companyId, { limit: 2, cursor: "not-a-cursor" }))
        expect((error as BadRequest).field).toBe("cursor")
      }))

    it.effect("update changes fields and updated_at", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        yield* TestClock.setTime(Date.parse("2026-05-19T13:00:00.000Z"))
        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook", description: "old" })
        yield* TestClock.adjust("1 minute")

        const updated = yield* subscriptions.update(companyId, created.id, {
          url: "https://hooks.example.com/saleslab",
          event_kinds: ["badge.awarded"],
          description: null
        })
        expect(updated.url).toBe("https://hooks.example.com/saleslab")
        expect(updated.event_kinds).toEqual(["badge.awarded"])
        expect(updated.description).toBeNull()
        expect(updated.status).toBe("active")
        expect(updated.created_at.toISOString()).toBe("2026-05-19T13:00:00.000Z")
        expect(updated.updated_at.toISOString()).toBe("2026-05-19T13:01:00.000Z")

        const untouched = yield* subscriptions.update(companyId, created.id, { description: "new" })
        expect(untouched.url).toBe("https://hooks.example.com/saleslab")
        expect(untouched.event_kinds).toEqual(["badge.awarded"])
        expect(untouched.description).toBe("new")

        const everyKind = yield* subscriptions.update(companyId, created.id, { event_kinds: [] })
        expect(everyKind.event_kinds).toEqual([])
      }))

    it.effect("update validates like create", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook" })

        const cases = [
          [{ url: "ftp://example.com" }, "url"],
          [{ event_kinds: ["nope"] }, "event_kinds"],
          [{ description: "d".repeat(501) }, "description"],
          [{ status: "disabled" }, "status"],
          [{ status: "deleted" }, "status"]
        ] as const
        for (const [patch, field] of cases) {
          const error = yield* failureOf(subscriptions.update(companyId, created.id, patch))
          expect(error, field).toBeInstanceOf(BadRequest)
          expect((error as BadRequest).field, field).toBe(field)
          expect(error.message, field).toContain(field)
        }
        expect(yield* subscriptions.get(companyId, created.id)).toMatchObject({ url: "https://example.com/hook", status: "active" })
      }))

    it.effect("pause and resume wakes the dispatcher", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const sql = yield* SqlClient.SqlClient
        const pg = yield* PgClient.PgClient
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook" })

        const paused = yield* subscriptions.update(companyId, created.id, { status: "paused" })
        expect(paused.status).toBe("paused")

        const wakeUp = yield* pg.listen(deliveryChannel).pipe(
          Stream.filter((payload) => payload === created.id),
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        // LISTEN runs on its own connection once the stream starts, so wait until the server lists it.
        yield* sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`.pipe(
          Effect.filterOrFail((rows) => rows.length > 0),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
          TestServices.provideLive
        )

        const resumed = yield* subscriptions.update(companyId, created.id, { status: "active" })
        expect(resumed.status).toBe("active")
        const notified = yield* Fiber.join(wakeUp).pipe(Effect.timeout("5 seconds"), TestServices.provideLive)
        expect([...notified]).toEqual([created.id])
      }))

    it.effect("test event queues one scorecard delivery", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, {
          url: "https://example.com/hook",
          event_kinds: ["badge.awarded"]
        })

        const { delivery_id } = yield* subscriptions.sendTest(companyId, created.id)
        const match = /^scorecard\.finalized:([0-9a-f-]{36}):(sub_[0-9A-Za-z]{24})$/.exec(delivery_id)
        expect(match).not.toBeNull()
        expect(match![2]).toBe(created.id)

        const rows = yield* deliveryRows(created.id)
        expect(rows).toHaveLength(1)
        expect(rows[0]!.delivery_id).toBe(delivery_id)
        expect(rows[0]!.status).toBe("pending")
        expect(rows[0]!.event_kind).toBe("session.scorecard_finalized")
        expect(rows[0]!.company_id).toBe(companyId)

        const payload = JSON.parse(rows[0]!.body)
        expect(Object.keys(payload)).toEqual(["event_kind", "company_id", "session_id", "user_id", "scorecard", "delivery_id"])
        expect(payload.event_kind).toBe("session.scorecard_finalized")
        expect(payload.company_id).toBe(companyId)
        expect(payload.session_id).toMatch(/^[0-9a-f-]{36}$/)
        expect(payload.user_id).toMatch(/^[0-9a-f-]{36}$/)
        expect(payload.delivery_id).toBe(delivery_id)
        expect(Object.keys(payload.scorecard)).toEqual([
          "id", "overall_score", "verdict", "headline", "category_scores", "best_line", "worst_line", "next_drill"
        ])
        expect(payload.scorecard.id).toBe(match![1])
        expect(payload.scorecard.overall_score).toBeTypeOf("number")
        expect(["pass", "fail"]).toContain(payload.scorecard.verdict)
        expect(payload.scorecard.headline).toBe("Test event from Sales Lab")
        expect(payload.scorecard.category_scores).toHaveProperty("discovery")
        expect(payload.scorecard.category_scores).toHaveProperty("objection_handling")
        for (const line of [payload.scorecard.best_line, payload.scorecard.worst_line, payload.scorecard.next_drill]) {
          expect(line).toMatch(/test/i)
        }

        const second = yield* subscriptions.sendTest(companyId, created.id)
        expect(second.delivery_id).not.toBe(delivery_id)
        expect(yield* deliveryRows(created.id)).toHaveLength(2)
      }))

    it.effect("test event on paused subscription conflicts", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook" })
        yield* subscriptions.update(companyId, created.id, { status: "paused" })

        const error = yield* failureOf(subscriptions.sendTest(companyId, created.id))
        expect(error).toBeInstanceOf(Conflict)
        expect(error.message).toContain("paused")
        expect(error.message).toContain("active")
        expect(yield* deliveryRows(created.id)).toEqual([])
      }))

    it.effect("delete cancels pending deliveries, then 404", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const sql = yield* SqlClient.SqlClient
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, { url: "https://example.com/hook" })
        const otherSubscription = yield* subscriptions.create(companyId, { url: "https://example.com/other" })
        yield* subscriptions.sendTest(companyId, created.id)
        yield* subscriptions.sendTest(companyId, created.id)
        yield* subscriptions.sendTest(companyId, otherSubscription.id)
        yield* sql`
          INSERT INTO webhook_deliveries (delivery_id, subscription_id, company_id, event_kind, body, status, event_at)
          VALUES ('done-1', ${created.id}, ${companyId}, 'badge.awarded', '{}', 'succeeded', now())`

        yield* subscriptions.remove(companyId, created.id)

        const statuses = (yield* deliveryRows(created.id)).map((row) => row.status)
        expect(statuses.sort()).toEqual(["cancelled", "cancelled", "succeeded"])
        expect((yield* deliveryRows(otherSubscription.id)).map((row) => row.status)).toEqual(["pending"])

        const deleted = yield* sql<{ deleted_at: Date | null }>`SELECT deleted_at FROM webhook_subscriptions WHERE id = ${created.id}`
        expect(deleted[0]!.deleted_at).toBeInstanceOf(Date)

        const page = yield* subscriptions.list(companyId, listParams)
        expect(page.data.map((subscription) => subscription.id)).toEqual([otherSubscription.id])
        const routes: ReadonlyArray<Effect.Effect<unknown, BadRequest | NotFound | Conflict>> = [
          subscriptions.get(companyId, created.id),
          subscriptions.update(companyId, created.id, { status: "paused" }),
          subscriptions.remove(companyId, created.id),
          subscriptions.sendTest(companyId, created.id)
        ]
        for (const route of routes) {
          expect(yield* failureOf(route)).toBeInstanceOf(NotFound)
        }
      }))

    it.effect("another tenant's subscription is not found", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const owner = yield* createTenant("Acme")
        const other = yield* createTenant("Globex")
        const created = yield* subscriptions.create(owner.companyId, { url: "https://example.com/hook" })
        const unknownId = "sub_000000000000000000000000"

        const routes = (companyId: string, id: string): ReadonlyArray<Effect.Effect<unknown, BadRequest | NotFound | Conflict>> => [
          subscriptions.get(companyId, id),
          subscriptions.update(companyId, id, { description: "taken over" }),
          subscriptions.sendTest(companyId, id),
          subscriptions.remove(companyId, id)
        ]
        const foreign = routes(other.companyId, created.id)
        const unknown = routes(other.companyId, unknownId)
        for (let i = 0; i < foreign.length; i++) {
          const foreignError = yield* failureOf(foreign[i]!)
          const unknownError = yield* failureOf(unknown[i]!)
          expect(foreignError).toBeInstanceOf(NotFound)
          expect(foreignError.message.replace(created.id, "<id>")).toBe(unknownError.message.replace(unknownId, "<id>"))
        }
        expect((yield* subscriptions.list(other.companyId, listParams)).data).toEqual([])

        const intact = yield* subscriptions.get(owner.companyId, created.id)
        expect(intact.description).toBeNull()
        expect(yield* deliveryRows(created.id)).toEqual([])
      }))
  })
})
