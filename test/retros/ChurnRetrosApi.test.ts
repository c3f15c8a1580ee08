import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { catalog } from "../../src/events/Catalog.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { testOperatorToken, TestServerLive } from "../support/TestServer.ts"

const retroBody = (slug: string) => ({
  slug,
  company_name: "Westwind Logistics",
  reason_short: "Tried to roll out to 4 pods in 4 weeks.",
  what_we_changed: "Mandatory 2-pod cap on rollouts under 60 days."
})

const publishRetro = (body: unknown, token = testOperatorToken) => sendAs(token, "POST", "/api/admin/retros", body)

/** Deliveries of churn retro `slug`, oldest first. */
const retroDeliveries = (slug: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; subscription_id: string; company_id: string; body: string }>`
      SELECT delivery_id, subscription_id, company_id, body FROM webhook_deliveries
      WHERE event_kind = 'churn_retro.published' AND body::jsonb ->> 'slug' = ${slug}
      ORDER BY id`)

const retroCount = (slug: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ count: number }>`SELECT count(*)::int AS count FROM churn_retros WHERE slug = ${slug}`).pipe(
    Effect.map((rows) => rows[0]!.count)
  )

describe("Churn retros", () => {
  // The service reads the TestClock, so a test that sets it fixes published_at.
  it.layer(TestServerLive())((it) => {
    it.effect("retro reaches every matching tenant", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const initech = yield* createTenantWithUser("Initech")
        const acmeAll = yield* insertSubscription(acme.companyId)
        const acmeRetros = yield* insertSubscription(acme.companyId, { eventKinds: ["churn_retro.published"] })
        const globexRetros = yield* insertSubscription(globex.companyId, {
          eventKinds: ["session.completed", "churn_retro.published"]
        })
        const initechSessions = yield* insertSubscription(initech.companyId, { eventKinds: ["session.completed"] })
        const slug = "westwind-q1-2026"
        yield* TestClock.setTime(Date.parse("2026-05-19T13:42:08.123Z"))

        const response = yield* publishRetro(retroBody(slug))

        expect(response.status).toBe(201)
        expect(response.body).toEqual({ ...retroBody(slug), published_at: "2026-05-19T13:42:08.123Z" })

        const deliveries = yield* retroDeliveries(slug)
        const recipients = new Map([
          [acmeAll, acme.companyId],
          [acmeRetros, acme.companyId],
          [globexRetros, globex.companyId]
        ])
        const ours = deliveries.filter((delivery) =>
          recipients.has(delivery.subscription_id) || delivery.subscription_id === initechSessions
        )
        expect(ours.map((delivery) => delivery.subscription_id).sort()).toEqual([...recipients.keys()].sort())

        for (const delivery of ours) {
          const companyId = recipients.get(delivery.subscription_id)!
          expect(delivery.company_id).toBe(companyId)
          expect(delivery.delivery_id).toBe(`churn_retro.published:${slug}:${delivery.subscription_id}`)
          const body = JSON.parse(delivery.body)
          Schema.decodeUnknownSync(catalog["churn_retro.published"].schema)(body)
          expect(body).toEqual({
            event_kind: "churn_retro.published",
            company_id: companyId,
            slug,
            company_name: "Westwind Logistics",
            reason_short: "Tried to roll out to 4 pods in 4 weeks.",
            what_we_changed: "Mandatory 2-pod cap on rollouts under 60 days.",
            published_at: "2026-05-19T13:42:08.123Z"
          })
        }
        expect(deliveries.some((delivery) => delivery.company_id === initech.companyId)).toBe(false)
      }))

    it.effect("repeated slug is 409 and fires nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        const slug = "northwind-q2-2026"

        const first = yield* publishRetro(retroBody(slug))
        const deliveriesAfterFirst = (yield* retroDeliveries(slug)).length
        const second = yield* publishRetro({ ...retroBody(slug), reason_short: "Another reason." })

        expect(first.status).toBe(201)
        expect(deliveriesAfterFirst).toBeGreaterThan(0)
        expect(second.status).toBe(409)
        expect(second.body._tag).toBe("Conflict")
        expect(second.body.message).toContain(slug)
        expect(yield* retroDeliveries(slug)).toHaveLength(deliveriesAfterFirst)
        expect(yield* retroCount(slug)).toBe(1)
      }))

    it.effect("paused subscription gets nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const active = yield* insertSubscription(tenant.companyId)
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const slug = "paused-check-2026"

        const response = yield* publishRetro(retroBody(slug))

        expect(response.status).toBe(201)
        const subscriptions = (yield* retroDeliveries(slug)).map((delivery) => delivery.subscription_id)
        expect(subscriptions).toContain(active)
        expect(subscriptions).not.toContain(paused)
      }))

    it.effect("failed broadcast writes nothing", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        const slug = "rollback-check-2026"
        // The trigger fails the delivery inserts, which run after the retro insert.
        yield* sql`
          CREATE FUNCTION reject_retro_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'delivery rejected by test trigger'; END $$`
        yield* sql`
          CREATE TRIGGER reject_retro_delivery BEFORE INSERT ON webhook_deliveries
          FOR EACH ROW WHEN (NEW.event_kind = 'churn_retro.published') EXECUTE FUNCTION reject_retro_delivery()`

        const response = yield* publishRetro(retroBody(slug)).pipe(
          Effect.ensuring(Effect.orDie(sql`DROP FUNCTION reject_retro_delivery() CASCADE`))
        )

        expect(response.status).toBe(500)
        expect(response.body._tag).toBe("InternalError")
        expect(JSON.stringify(response.body)).not.toContain("test trigger")
        expect(yield* retroCount(slug)).toBe(0)
        const events = yield* sql`SELECT 1 FROM events WHERE kind = 'churn_retro.published' AND natural_key = ${slug}`
        expect(events).toHaveLength(0)

        const retried = yield* publishRetro(retroBody(slug))
        expect(retried.status).toBe(201)
        expect(yield* retroCount(slug)).toBe(1)
        expect((yield* retroDeliveries(slug)).length).toBeGreaterThan(0)
      }))

    it.effect("invalid retros are 400 naming the field", () =>
      Effect.gen(function*() {
        const valid = retroBody("valid-slug")
        const cases: ReadonlyArray<[unknown, string]> = [
          [{ ...valid, slug: "Westwind-Q1" }, "slug"],
          [{ ...valid, slug: "westwind--q1" }, "slug"],
          [{ ...valid, slug: "-westwind" }, "slug"],
          [{ ...valid, slug: "westwind q1" }, "slug"],
          [{ ...valid, slug: "" }, "slug"],
          [{ ...valid, slug: "a".repeat(101) }, "slug"],
          [{ ...valid, company_name: "  " }, "company_name"],
          [{ ...valid, reason_short: "x".repeat(281) }, "reason_short"],
          [{ ...valid, what_we_changed: "x".repeat(2001) }, "what_we_changed"],
          [{ slug: "missing-fields", company_name: "Westwind Logistics" }, "reason_short"]
        ]
        for (const [body, field] of cases) {
          const response = yield* publishRetro(body)
          expect(response.status, JSON.stringify(body).slice(0, 200)).toBe(400)
          expect(JSON.stringify(response.body), field).toContain(field)
        }

        const longest = yield* publishRetro({
          slug: "a".repeat(100),
          company_name: "Westwind Logistics",
          reason_short: "x".repeat(280),
          what_we_changed: "x".repeat(2000)
        })
        expect(longest.status).toBe(201)
        expect(yield* retroCount("valid-slug")).toBe(0)
      }))

    it.effect("tenant token is 401", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const slug = "tenant-attempt-2026"

        const withTenantToken = yield* publishRetro(retroBody(slug), tenant.token)
        const withWrongToken = yield* publishRetro(retroBody(slug), "not-the-operator-token")

        expect(withTenantToken.status).toBe(401)
        expect(withWrongToken.status).toBe(401)
        expect(yield* retroCount(slug)).toBe(0)
      }))
  })
})
