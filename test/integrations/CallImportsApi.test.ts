import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Clock, Effect, Schema } from "effect"
import { catalog } from "../../src/events/Catalog.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"

const priceCall = [
  { speaker: "rep", text: "Thanks for making time today." },
  { speaker: "buyer", text: "Sure. We move about four hundred loads a week." },
  { speaker: "rep", text: "Got it, that's a lot of volume to route." },
  { speaker: "buyer", text: "Honestly, your pricing is way above what we pay now." },
  { speaker: "rep", text: "Well, you get what you pay for." },
  { speaker: "buyer", text: "Maybe. Send me something." }
] as const

const importBody = (sourceUrl: string, overrides: Record<string, unknown> = {}) => ({
  source_url: sourceUrl,
  source_vendor: "gong",
  external_id: "8812734",
  transcript: priceCall,
  ...overrides
})

const expectedFailureMoment = {
  buyer_line: "Honestly, your pricing is way above what we pay now.",
  rep_response: "Well, you get what you pay for.",
  diagnosis: "The rep responded to a price objection without first tying the cost to the problem the buyer needs solved.",
  better_response:
    "That is fair to raise. Before we talk numbers, what does it cost you each quarter that this problem stays unsolved?"
}

const deliveriesOf = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; company_id: string; body: string }>`
      SELECT delivery_id, event_kind, company_id, body FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`)

/** Rows the import route writes for the tenant, to check that a request wrote nothing. */
const importRows = (companyId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ imports: number; scenarios: number; events: number; deliveries: number }>`
      SELECT
        (SELECT count(*)::int FROM call_imports WHERE company_id = ${companyId}) AS imports,
        (SELECT count(*)::int FROM scenarios WHERE company_id = ${companyId}) AS scenarios,
        (SELECT count(*)::int FROM events WHERE company_id = ${companyId}) AS events,
        (SELECT count(*)::int FROM webhook_deliveries WHERE company_id = ${companyId}) AS deliveries`
    return row!
  })

describe("Call imports", () => {
  // The real clock: the timestamps of an import only need to fall within the request.
  layer(TestServerLive(), { excludeTestServices: true })((it) => {
    it.effect("import queues real_call.imported", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        const sourceUrl = "https://app.gong.io/call?id=8812734"

        const response = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", importBody(sourceUrl, {
          user_id: tenant.userId
        }))

        expect(response.status).toBe(201)
        expect(response.body.status).toBe("imported")
        expect(response.body.failure_moment).toEqual(expectedFailureMoment)
        const ingestId: string = response.body.ingest_id
        const scenarioId: string = response.body.scenario_id

        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries).toHaveLength(1)
        expect(deliveries[0]!.event_kind).toBe("real_call.imported")
        expect(deliveries[0]!.delivery_id).toBe(`real_call.imported:${ingestId}:${subscription}`)
        const body = JSON.parse(deliveries[0]!.body)
        Schema.decodeUnknownSync(catalog["real_call.imported"].schema)(body)
        expect(body).toEqual({
          event_kind: "real_call.imported",
          company_id: tenant.companyId,
          ingest_id: ingestId,
          source_url: sourceUrl,
          source_vendor: "gong",
          generated_scenario_id: scenarioId,
          failure_moment: expectedFailureMoment
        })
      }))

    it.effect("import stores the drill scenario", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const before = yield* Clock.currentTimeMillis
        const response = yield* sendAs(
          tenant.token,
          "POST",
          "/api/integrations/calls",
          importBody("https://chorus.ai/meeting/71", { source_vendor: "chorus" })
        )
        expect(response.status).toBe(201)

        const sql = yield* SqlClient.SqlClient
        const [scenario] = yield* sql<{ company_id: string; title: string; prompt: string; pass_mark: number }>`
          SELECT company_id, title, prompt, pass_mark FROM scenarios WHERE id = ${response.body.scenario_id}`
        expect(scenario!.company_id).toBe(tenant.companyId)
        expect(scenario!.title).toBe("Drill: answer price pushback with value")
        expect(scenario!.pass_mark).toBe(70)
        expect(scenario!.prompt).toContain(expectedFailureMoment.buyer_line)
        expect(scenario!.prompt).toContain(expectedFailureMoment.better_response)

        const [stored] = yield* sql<{ source_vendor: string; external_id: string | null; transcript: unknown; created_at: Date }>`
          SELECT source_vendor, external_id, transcript, created_at FROM call_imports WHERE id = ${response.body.ingest_id}`
        expect(stored!.source_vendor).toBe("chorus")
        expect(stored!.external_id).toBe("8812734")
        expect(stored!.transcript).toEqual(priceCall)
        expect(stored!.created_at.getTime()).toBeGreaterThanOrEqual(before)
        expect(stored!.created_at.getTime()).toBeLessThanOrEqual(yield* Clock.currentTimeMillis)
      }))

    it.effect("repeated import fires nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        const body = importBody("https://app.gong.io/call?id=555")

        const first = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", body)
        const second = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", body)
        const changedTranscript = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", {
          ...body,
          transcript: [{ speaker: "buyer", text: "Not interested." }, { speaker: "rep", text: "Okay." }]
        })

        expect(first.status).toBe(201)
        expect(second.status).toBe(200)
        expect(second.body).toEqual(first.body)
        expect(changedTranscript.status).toBe(200)
        expect(changedTranscript.body).toEqual(first.body)
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 1, scenarios: 1, events: 1, deliveries: 1 })
      }))

    it.effect("concurrent imports create one", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        const body = importBody("https://app.gong.io/call?id=race")

        const responses = yield* Effect.all(
          Array.from({ length: 4 }, () => sendAs(tenant.token, "POST", "/api/integrations/calls", body)),
          { concurrency: "unbounded" }
        )

        expect(responses.map((response) => response.status).sort()).toEqual([200, 200, 200, 201])
        expect(new Set(responses.map((response) => response.body.ingest_id)).size).toBe(1)
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 1, scenarios: 1, events: 1, deliveries: 1 })
      }))

    it.effect("same URL imports once per tenant", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const body = importBody("https://app.gong.io/call?id=shared")

        const first = yield* sendAs(acme.token, "POST", "/api/integrations/calls", body)
        const second = yield* sendAs(globex.token, "POST", "/api/integrations/calls", body)

        expect(first.status).toBe(201)
        expect(second.status).toBe(201)
        expect(second.body.ingest_id).not.toBe(first.body.ingest_id)
      }))

    it.effect("filtered and paused subscriptions get nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const matching = yield* insertSubscription(tenant.companyId, { eventKinds: ["real_call.imported"] })
        const filteredOut = yield* insertSubscription(tenant.companyId, { eventKinds: ["session.completed"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })

        const response = yield* sendAs(
          tenant.token,
          "POST",
          "/api/integrations/calls",
          importBody("https://app.gong.io/call?id=filters")
        )

        expect(response.status).toBe(201)
        expect(yield* deliveriesOf(matching)).toHaveLength(1)
        expect(yield* deliveriesOf(filteredOut)).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)
      }))

    it.effect("failed publish writes nothing", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        // The trigger fails the event insert, which runs after the import and scenario inserts.
        yield* sql`
          CREATE FUNCTION reject_imported_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'event rejected by test trigger'; END $$`
        yield* sql`
          CREATE TRIGGER reject_imported_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'real_call.imported') EXECUTE FUNCTION reject_imported_event()`

        const response = yield* sendAs(
          tenant.token,
          "POST",
          "/api/integrations/calls",
          importBody("https://app.gong.io/call?id=rollback")
        ).pipe(
          Effect.ensuring(Effect.orDie(sql`DROP FUNCTION reject_imported_event() CASCADE`))
        )

        expect(response.status).toBe(500)
        expect(response.body._tag).toBe("InternalError")
        expect(JSON.stringify(response.body)).not.toContain("test trigger")
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 0, scenarios: 0, events: 0, deliveries: 0 })

        const retried = yield* sendAs(
          tenant.token,
          "POST",
          "/api/integrations/calls",
          importBody("https://app.gong.io/call?id=rollback")
        )
        expect(retried.status).toBe(201)
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 1, scenarios: 1, events: 1, deliveries: 1 })
      }))

    it.effect("invalid imports are 400 naming the field", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const url = "https://app.gong.io/call?id=invalid"
        const cases: ReadonlyArray<[unknown, string]> = [
          [{ ...importBody(url), source_url: "/call?id=1" }, "source_url"],
          [{ ...importBody(url), source_url: "ftp://files.example.com/call" }, "source_url"],
          [{ ...importBody(url), source_vendor: "zoom" }, "source_vendor"],
          [{ ...importBody(url), user_id: "42" }, "user_id"],
          [{ ...importBody(url), external_id: "" }, "external_id"],
          [{ ...importBody(url), transcript: [] }, "transcript"],
          [{ ...importBody(url), transcript: Array.from({ length: 2001 }, () => priceCall[3]) }, "transcript"],
          [{ ...importBody(url), transcript: [{ speaker: "agent", text: "Hi." }] }, "speaker"],
          [{ ...importBody(url), transcript: [{ speaker: "buyer", text: "x".repeat(4001) }] }, "text"],
          [{ source_vendor: "gong", transcript: priceCall }, "source_url"],
          // A transcript without a buyer line that the rep responds to has no failure moment.
          [{ ...importBody(url), transcript: [{ speaker: "rep", text: "Leaving a voicemail." }] }, "transcript"]
        ]
        for (const [body, field] of cases) {
          const response = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", body)
          expect(response.status, JSON.stringify(body).slice(0, 200)).toBe(400)
          expect(typeof response.body.message).toBe("string")
          expect(JSON.stringify(response.body), field).toContain(field)
        }
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 0, scenarios: 0, events: 0, deliveries: 0 })

        const mostTurns = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", {
          ...importBody(url),
          transcript: [...Array.from({ length: 1999 }, () => ({ speaker: "buyer", text: "Hm." })), { speaker: "rep", text: "Okay." }]
        })
        expect(mostTurns.status).toBe(201)
        const longestTurn = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", {
          ...importBody(`${url}-long`),
          transcript: [{ speaker: "buyer", text: "x".repeat(4000) }, { speaker: "rep", text: "Okay." }]
        })
        expect(longestTurn.status).toBe(201)
      }))

    it.effect("unknown or foreign user is 404", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        for (const userId of [other.userId, "00000000-0000-4000-8000-000000000000"]) {
          const response = yield* sendAs(tenant.token, "POST", "/api/integrations/calls", importBody(
            `https://app.gong.io/call?id=user-${userId}`,
            { user_id: userId }
          ))
          expect(response.status).toBe(404)
          expect(response.body._tag).toBe("NotFound")
          expect(response.body.message).toContain(userId)
        }
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 0, scenarios: 0, events: 0, deliveries: 0 })
      }))

    it.effect("read-only token is 403", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme", ["read"])
        const response = yield* sendAs(
          tenant.token,
          "POST",
          "/api/integrations/calls",
          importBody("https://app.gong.io/call?id=readonly")
        )
        expect(response.status).toBe(403)
        expect(yield* importRows(tenant.companyId)).toEqual({ imports: 0, scenarios: 0, events: 0, deliveries: 0 })
      }))
  })
})
