import { FetchHttpClient, HttpClient } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schedule, Stream, TestClock, TestServices } from "effect"
import { BadRequest, Conflict, NotFound } from "../../src/ApiErrors.ts"
import { eventKinds } from "../../src/events/EventKinds.ts"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { deliveryChannelQuery } from "../support/TestDatabase.ts"
import { Subscriptions, validateUrl } from "../../src/webhooks/Subscriptions.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { apiClient, TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"

const ServicesLive = Subscriptions.Default.pipe(Layer.provideMerge(TestDatabaseLive), Layer.provide(AppConfig.layerTest()))

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
        const error = yield* failureOf(validateUrl(url, true))
        expect(error, url).toBeInstanceOf(BadRequest)
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain("url")
      }
      expect(yield* validateUrl("https://example.com/hook?x=1", true)).toBe("https://example.com/hook?x=1")
      expect(yield* validateUrl("http://127.0.0.1:8080/hook", true)).toBe("http://127.0.0.1:8080/hook")
    }))

  it.effect("validateUrl rejects ambiguous URL forms", () =>
    Effect.gen(function*() {
      const rejected: ReadonlyArray<readonly [string, string]> = [
        ["http:///nohost", "two slashes and then a host"],
        ["http:/example.com/hook", "two slashes and then a host"],
        ["https:example.com/hook", "two slashes and then a host"],
        ["https://example.com/a b", "U+0020"],
        ["https://exa\tmple.com/hook", "U+0009"],
        ["https://example.com/hook\n?x=1", "U+000A"],
        ["https://example.com\\hook", "backslash"]
      ]
      for (const [url, problem] of rejected) {
        const error = yield* failureOf(validateUrl(url, true))
        expect(error, url).toBeInstanceOf(BadRequest)
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain(problem)
      }
      expect(yield* validateUrl("HTTPS://Example.com/a%20b#part", true)).toBe("HTTPS://Example.com/a%20b#part")
    }))

  it.effect("validateUrl rejects port 0", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(validateUrl("http://127.0.0.1:0/hook", true))
      expect(error.field).toBe("url")
      expect(error.message).toContain("port 0")
      expect(yield* validateUrl("http://127.0.0.1:1/hook", true)).toBe("http://127.0.0.1:1/hook")
    }))

  it.effect("validateUrl names a port past 65535", () =>
    Effect.gen(function*() {
      for (const [url, port] of [["http://127.0.0.1:99999/x", "99999"], ["https://[::1]:65536", "65536"], ["http://a@example.com:70000?q", "70000"]]) {
        const error = yield* failureOf(validateUrl(url!, true))
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain(`has port ${port}`)
      }
      expect(yield* validateUrl("http://127.0.0.1:65535/hook", true)).toBe("http://127.0.0.1:65535/hook")
    }))

  it.effect("validateUrl rejects credentials in the URL", () =>
    Effect.gen(function*() {
      for (const url of ["https://user:secret@example.com/hook", "https://user@example.com/hook"]) {
        const error = yield* failureOf(validateUrl(url, true))
        expect(error, url).toBeInstanceOf(BadRequest)
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain("user name or password")
        expect(error.message, url).not.toContain("secret")
      }
    }))

  it.effect("validateUrl rejects private targets unless allowed", () =>
    Effect.gen(function*() {
      const rejected = [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "https://hooks.LOCALHOST/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://172.20.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        // The URL parser reads both as 127.0.0.1.
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://localhost..:9000/hook",
        "http://localhost\u3002\u3002:9000/hook",
        "http://[::ffff:0:127.0.0.1]:9000/hook",
        "http://[::1:0:0:1]/hook",
        "http://[4000::1]/hook",
        "http://[2001::1]/hook"
      ]
      for (const url of rejected) {
        const error = yield* failureOf(validateUrl(url, false))
        expect(error, url).toBeInstanceOf(BadRequest)
        expect(error.field, url).toBe("url")
        expect(error.message, url).toContain("private target")
        expect(yield* validateUrl(url, true), url).toBe(url)
      }
      for (const url of ["https://example.com/hook", "http://93.184.215.14/hook", "https://[2606:4700::1111]/hook"]) {
        expect(yield* validateUrl(url, false), url).toBe(url)
      }
    }))

  it.layer(ServicesLive)((it) => {
    it.effect("create returns the secret once", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        yield* TestClock.setTime(Date.parse("2026-05-19T13:42:08.123Z"))

        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })
        expect(created.id).toMatch(/^sub_[0-9A-Za-z]{24}$/)
        expect(created.secret).toMatch(/^sl_whsec_[0-9A-Za-z]{40}$/)
        expect(created.url).toBe("http://127.0.0.1:9/hook")
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
          url: "http://127.0.0.1:9/hook",
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
          url: "http://127.0.0.1:9/hook",
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
          url: "http://127.0.0.1:9/hook",
          description: "d".repeat(501)
        }))
        expect(error).toBeInstanceOf(BadRequest)
        expect((error as BadRequest).field).toBe("description")
        const accepted = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook", description: "d".repeat(500) })
        expect(accepted.description).toHaveLength(500)
      }))

    it.effect("list pages newest first", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const { companyId } = yield* createTenant("Acme")
        yield* TestClock.setTime(Date.parse("2026-05-19T13:00:00.000Z"))
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) {
          ids.push((yield* subscriptions.create(companyId, { url: `http://127.0.0.1:9/hook/${i}` })).id)
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
        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook", description: "old" })
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
        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })

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
        expect(yield* subscriptions.get(companyId, created.id)).toMatchObject({ url: "http://127.0.0.1:9/hook", status: "active" })
      }))

    it.effect("pause and resume wakes the dispatcher", () =>
      Effect.gen(function*() {
        const subscriptions = yield* Subscriptions
        const sql = yield* SqlClient.SqlClient
        const pg = yield* PgClient.PgClient
        const { companyId } = yield* createTenant("Acme")
        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })

        const paused = yield* subscriptions.update(companyId, created.id, { status: "paused" })
        expect(paused.status).toBe("paused")

        const [channel] = yield* sql.unsafe<{ value: string }>(deliveryChannelQuery)
        const wakeUp = yield* pg.listen(channel!.value).pipe(
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
          url: "http://127.0.0.1:9/hook",
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
        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })
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
        const created = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/hook" })
        const otherSubscription = yield* subscriptions.create(companyId, { url: "http://127.0.0.1:9/other" })
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
        const created = yield* subscriptions.create(owner.companyId, { url: "http://127.0.0.1:9/hook" })
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

describe("Webhook subscription routes", () => {
  it.layer(TestServerLive())((it) => {
    const isoMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

    it.effect("create shows the secret once", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Acme")

        const created = yield* sendAs(token, "POST", "/v1/webhooks", {
          url: "http://127.0.0.1:9/hook",
          event_kinds: ["session.scorecard_finalized"],
          description: "Scorecards to the warehouse"
        })
        expect(created.status).toBe(201)
        expect(Object.keys(created.body).sort()).toEqual(
          ["created_at", "description", "event_kinds", "id", "secret", "status", "updated_at", "url"]
        )
        expect(created.body.id).toMatch(/^sub_[0-9A-Za-z]{24}$/)
        expect(created.body.secret).toMatch(/^sl_whsec_[0-9A-Za-z]{40}$/)
        expect(created.body.status).toBe("active")
        expect(created.body.event_kinds).toEqual(["session.scorecard_finalized"])
        expect(created.body.created_at).toMatch(isoMillis)
        expect(created.body.updated_at).toMatch(isoMillis)

        const fetched = yield* sendAs(token, "GET", `/v1/webhooks/${created.body.id}`)
        expect(fetched.status).toBe(200)
        expect(fetched.body).not.toHaveProperty("secret")
        const { secret: _secret, ...withoutSecret } = created.body
        expect(fetched.body).toEqual(withoutSecret)

        const listed = yield* sendAs(token, "GET", "/v1/webhooks")
        expect(listed.status).toBe(200)
        expect(listed.body).toEqual({ data: [withoutSecret], next_cursor: null })
        expect(JSON.stringify(listed.body)).not.toContain(created.body.secret)

        const client = yield* apiClient(token)
        const typed = yield* client.webhooks.get({ path: { id: created.body.id } })
        expect(typed.id).toBe(created.body.id)
      }))

    it.effect("invalid url is 400 naming url", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Acme")

        for (const url of ["/relative/hook", "ftp://example.com/hook", "javascript:alert(1)", "", "https://"]) {
          const response = yield* sendAs(token, "POST", "/v1/webhooks", { url })
          expect(response.status, url).toBe(400)
          expect(response.body._tag, url).toBe("BadRequest")
          expect(response.body.message, url).toContain("url")
        }
        const missing = yield* sendAs(token, "POST", "/v1/webhooks", { description: "no url" })
        expect(missing.status).toBe(400)
        expect(missing.body.message).toContain("url")

        const listed = yield* sendAs(token, "GET", "/v1/webhooks")
        expect(listed.body.data).toEqual([])
      }))

    it.effect("unknown event kind is 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Acme")

        const response = yield* sendAs(token, "POST", "/v1/webhooks", {
          url: "http://127.0.0.1:9/hook",
          event_kinds: ["session.completed", "deal.won"]
        })
        expect(response.status).toBe(400)
        expect(response.body._tag).toBe("BadRequest")
        expect(response.body.message).toContain("deal.won")
        for (const kind of eventKinds) expect(response.body.message).toContain(kind)
      }))

    it.effect("patch pauses and resumes", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Acme")
        const created = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        const path = `/v1/webhooks/${created.body.id}`

        const paused = yield* sendAs(token, "PATCH", path, { status: "paused", description: "on hold" })
        expect(paused.status).toBe(200)
        expect(paused.body.status).toBe("paused")
        expect(paused.body.description).toBe("on hold")
        expect(paused.body.url).toBe("http://127.0.0.1:9/hook")
        expect(Date.parse(paused.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at))
        expect(paused.body.created_at).toBe(created.body.created_at)

        const test = yield* sendAs(token, "POST", `${path}/test`)
        expect(test.status).toBe(409)
        expect(test.body._tag).toBe("Conflict")
        expect(test.body.message).toContain("active")

        const disabled = yield* sendAs(token, "PATCH", path, { status: "disabled" })
        expect(disabled.status).toBe(400)
        expect(disabled.body.message).toContain("status")
        const badUrl = yield* sendAs(token, "PATCH", path, { url: "ftp://example.com" })
        expect(badUrl.status).toBe(400)
        expect(badUrl.body.message).toContain("url")

        const resumed = yield* sendAs(token, "PATCH", path, { status: "active" })
        expect(resumed.status).toBe(200)
        expect(resumed.body.status).toBe("active")
        expect((yield* sendAs(token, "POST", `${path}/test`)).status).toBe(202)
      }))

    it.effect("delete is 204, then 404", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { token } = yield* createTenant("Acme")
        const created = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        const path = `/v1/webhooks/${created.body.id}`
        const queued = yield* sendAs(token, "POST", `${path}/test`)
        expect(queued.status).toBe(202)

        const deleted = yield* sendAs(token, "DELETE", path)
        expect(deleted.status).toBe(204)
        expect(deleted.body).toBeNull()

        const rows = yield* sql<{ status: string }>`
          SELECT status FROM webhook_deliveries WHERE delivery_id = ${queued.body.delivery_id}`
        expect(rows.map((row) => row.status)).toEqual(["cancelled"])

        for (const [method, suffix] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["POST", "/test"], ["GET", "/deliveries"]] as const) {
          const response = yield* sendAs(token, method, `${path}${suffix}`, method === "PATCH" ? {} : undefined)
          expect(response.status, `${method} ${suffix}`).toBe(404)
          expect(response.body._tag, `${method} ${suffix}`).toBe("NotFound")
        }
        expect((yield* sendAs(token, "GET", "/v1/webhooks")).body.data).toEqual([])
      }))

    it.effect("another tenant's id is 404 everywhere", () =>
      Effect.gen(function*() {
        const owner = yield* createTenant("Acme")
        const other = yield* createTenant("Globex")
        const created = yield* sendAs(owner.token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        const queued = yield* sendAs(owner.token, "POST", `/v1/webhooks/${created.body.id}/test`)
        const deliveryId = encodeURIComponent(queued.body.delivery_id)
        const unknownId = "sub_000000000000000000000000"

        const routes = (id: string) =>
          [
            ["GET", `/v1/webhooks/${id}`, undefined],
            ["PATCH", `/v1/webhooks/${id}`, { status: "paused" }],
            ["DELETE", `/v1/webhooks/${id}`, undefined],
            ["POST", `/v1/webhooks/${id}/test`, undefined],
            ["GET", `/v1/webhooks/${id}/deliveries`, undefined],
            ["GET", `/v1/webhooks/${id}/deliveries/${deliveryId}`, undefined],
            ["POST", `/v1/webhooks/${id}/deliveries/${deliveryId}/retry`, undefined]
          ] as const
        const foreignRoutes = routes(created.body.id)
        const unknownRoutes = routes(unknownId)
        for (let i = 0; i < foreignRoutes.length; i++) {
          const [method, path, body] = foreignRoutes[i]!
          const foreign = yield* sendAs(other.token, method, path, body)
          const unknown = yield* sendAs(other.token, unknownRoutes[i]![0], unknownRoutes[i]![1], unknownRoutes[i]![2])
          expect(foreign.status, `${method} ${path}`).toBe(404)
          expect(JSON.stringify(foreign.body).replaceAll(created.body.id, "<id>"), `${method} ${path}`)
            .toBe(JSON.stringify(unknown.body).replaceAll(unknownId, "<id>"))
        }

        const intact = yield* sendAs(owner.token, "GET", `/v1/webhooks/${created.body.id}`)
        expect(intact.body.status).toBe("active")
        const deliveries = yield* sendAs(owner.token, "GET", `/v1/webhooks/${created.body.id}/deliveries`)
        expect(deliveries.body.data.map((delivery: { status: string }) => delivery.status)).toEqual(["pending"])
      }))

    it.effect("routes need the admin scope", () =>
      Effect.gen(function*() {
        const admin = yield* createTenant("Acme")
        const { token } = yield* createTenant("Acme readers", ["read", "write"])
        const created = yield* sendAs(admin.token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })

        const create = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        expect(create.status).toBe(403)
        expect(create.body._tag).toBe("Forbidden")
        expect((yield* sendAs(token, "GET", "/v1/webhooks")).status).toBe(403)
        expect((yield* sendAs(token, "GET", `/v1/webhooks/${created.body.id}`)).status).toBe(403)

        const baseUrl = yield* TestServerUrl
        const anonymous = yield* HttpClient.get(`${baseUrl}/v1/webhooks`).pipe(Effect.provide(FetchHttpClient.layer))
        expect(anonymous.status).toBe(401)
      }))
  })
})
