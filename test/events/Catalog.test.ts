import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { bodyJsonSchema, catalog, exampleBody } from "../../src/events/Catalog.ts"
import { eventKinds } from "../../src/events/EventKinds.ts"
import { Events } from "../../src/events/Events.ts"
import { apiClient, TestServerLive } from "../support/TestServer.ts"
import { createTenant } from "../support/Tenants.ts"

const uuid = "0b9f3e2a-5c71-4d8e-a6b2-9f1e3c7d5a40"
const subscriptionId = "sub_AbCdEfGhIjKlMnOpQrStUvWx"

describe("Event catalog", () => {
  it("has one entry per event kind", () => {
    expect(Object.keys(catalog).sort()).toEqual([...eventKinds].sort())
    for (const kind of eventKinds) expect(catalog[kind].kind).toBe(kind)
  })

  it("examples encode through their schemas", () => {
    for (const kind of eventKinds) {
      const body = exampleBody(kind) as Record<string, unknown>
      expect(body.event_kind).toBe(kind)
      expect(typeof body.company_id).toBe("string")
      expect(Schema.is(Schema.encodedSchema(catalog[kind].schema as Schema.Schema<unknown, unknown>))(body)).toBe(true)
    }
  })

  it("timestamps encode with milliseconds", () => {
    const body = exampleBody("session.completed") as { session: { ended_at: string } }
    expect(body.session.ended_at).toBe("2026-05-19T13:42:08.123Z")
  })

  it("json schemas name every field", () => {
    for (const kind of eventKinds) {
      const schema = JSON.stringify(bodyJsonSchema(kind))
      const body = exampleBody(kind) as Record<string, unknown>
      for (const field of Object.keys(body)) expect(schema).toContain(`"${field}"`)
    }
  })

  it("delivery ids follow the documented formats", () => {
    const at = new Date("2026-05-19T13:42:08.123Z")
    const ids = {
      session: catalog["session.completed"].deliveryId(
        { session: { id: uuid, user_id: uuid, scenario_id: uuid, ended_at: at } },
        subscriptionId
      ),
      autopop: catalog["realtime.autopop_ready"].deliveryId(
        { assist_id: uuid, user_id: uuid, summary: "", next_step: "", key_topics: [], draft_followup_email: "", duration_seconds: 1 },
        subscriptionId
      ),
      coverage: catalog["coverage.subscription_activated"].deliveryId(
        { user_id: uuid, plan: "individual", stripe_subscription_id: "sub_1", activated_at: at },
        subscriptionId
      ),
      tier: catalog["score.tier_changed"].deliveryId(
        { user_id: uuid, from_tier: "silver", to_tier: "gold", direction: "up", total_score: 700, percentile: 60, computed_at: at },
        subscriptionId
      ),
      badge: catalog["badge.awarded"].deliveryId({ user_id: uuid, badge_slug: "first_pass", awarded_at: at }, subscriptionId)
    }

    expect(ids.session).toBe(`session.completed:${uuid}:${subscriptionId}`)
    expect(ids.autopop).toBe(`realtime_autopop.${uuid}:${subscriptionId}`)
    expect(ids.coverage).toBe(`coverage_activated:${uuid}:${subscriptionId}`)
    expect(ids.tier).toBe(`score_tier.${uuid}.2026-05-19T13:42:08.123Z`)
    expect(ids.badge).toBe(`badge.awarded:${uuid}:first_pass:${subscriptionId}`)
  })

  it.layer(TestServerLive())((it) => {
    it.effect("event-kinds route serves the catalog", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Catalog reader", ["read"])
        const client = yield* apiClient(token)
        const { data } = yield* client.eventKinds.list()

        expect(data.map((entry) => entry.kind)).toEqual([...eventKinds])
        const completed = data.find((entry) => entry.kind === "session.completed")!
        expect(completed.delivery_id_format).toBe("session.completed:<session_id>:<subscription_id>")
        expect(completed.example).toEqual(exampleBody("session.completed"))
        expect(JSON.stringify(completed.schema)).toContain("ended_at")
      }))

    it.effect("broadcast reaches every matching tenant once", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const events = yield* Events
        const tenants = yield* Effect.all([createTenant("Alpha"), createTenant("Beta"), createTenant("Gamma")])
        const subscribe = (companyId: string, kinds: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const id = `sub_${randomUUID().replaceAll("-", "").slice(0, 24)}`
            // Port 9 refuses connections: the rows stay in the outbox with their bodies, whatever the engine does.
            yield* sql`INSERT INTO webhook_subscriptions (id, company_id, url, event_kinds, status, secret)
              VALUES (${id}, ${companyId}, 'http://127.0.0.1:9/hook', ${kinds}, 'active', 'sl_whsec_test')`
            return id
          })
        const alpha = yield* subscribe(tenants[0].companyId, [])
        const beta = yield* subscribe(tenants[1].companyId, ["churn_retro.published"])
        yield* subscribe(tenants[2].companyId, ["badge.awarded"])

        const fields = {
          slug: `retro-${randomUUID()}`,
          company_name: "Westwind Logistics",
          reason_short: "Rolled out too fast.",
          what_we_changed: "Two-pod cap.",
          published_at: new Date("2026-05-19T13:42:08.123Z")
        }
        const first = yield* events.broadcast("churn_retro.published", fields.published_at, fields)
        const again = yield* events.broadcast("churn_retro.published", fields.published_at, fields)

        const rows = yield* sql<{ subscription_id: string; body: string; delivery_id: string }>`
          SELECT subscription_id, body, delivery_id FROM webhook_deliveries WHERE event_kind = 'churn_retro.published'
          ORDER BY subscription_id`
        expect(first).toBe(2)
        expect(again).toBe(0)
        expect(rows.map((row) => row.subscription_id).sort()).toEqual([alpha, beta].sort())
        for (const row of rows) {
          const body = JSON.parse(row.body)
          const recipient = row.subscription_id === alpha ? tenants[0].companyId : tenants[1].companyId
          expect(body).toEqual({ event_kind: "churn_retro.published", company_id: recipient, ...fields, published_at: "2026-05-19T13:42:08.123Z" })
          expect(row.delivery_id).toBe(`churn_retro.published:${fields.slug}:${row.subscription_id}`)
        }
      }).pipe(Effect.provide(Events.Default)))
  })
})
