import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Clock, Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { catalog } from "../../src/events/Catalog.ts"
import { sha256Hex } from "../../src/platform/Secrets.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"

const transcript = [
  { speaker: "rep", text: "Thanks for joining, Dana." },
  { speaker: "buyer", text: "Sure. Our current routing tool breaks down across our six sites." },
  { speaker: "rep", text: "How are you handling that today?" },
  { speaker: "buyer", text: "Spreadsheets, mostly. Budget is approved for Q3, but security needs SSO first." },
  { speaker: "rep", text: "Understood. I'll send the security questionnaire to you by Friday." },
  { speaker: "buyer", text: "Sounds good." }
] as const

const expectedSummary = "A 9-minute call between the rep and the buyer that covered pricing, timeline and security review. " +
  "The buyer noted: \"Our current routing tool breaks down across our six sites\". " +
  "The buyer noted: \"Budget is approved for Q3, but security needs SSO first\". " +
  "The rep committed to the next step: \"I'll send the security questionnaire to you by Friday\"."

const expectedEmail = "Subject: Recap and next steps: pricing, timeline, security review\n\n" +
  "Hi,\n\n" +
  "Thank you for your time today. We covered pricing, timeline and security review.\n\n" +
  "What I heard from you:\n" +
  "- \"Our current routing tool breaks down across our six sites\"\n" +
  "- \"Budget is approved for Q3, but security needs SSO first\"\n\n" +
  "Next step: I'll send the security questionnaire to you by Friday.\n\n" +
  "Let me know if I missed anything.\n\n" +
  "Best regards"

/** A nine-minute call: 540 seconds from start to end. */
const sessionBody = (userId: string, overrides: Record<string, unknown> = {}) => ({
  user_id: userId,
  started_at: "2026-05-19T13:33:08.123Z",
  ended_at: "2026-05-19T13:42:08.123Z",
  transcript,
  ...overrides
})

const recordSession = (tenant: { readonly token: string; readonly userId: string }) =>
  Effect.gen(function*() {
    const response = yield* sendAs(tenant.token, "POST", "/v1/realtime-sessions", sessionBody(tenant.userId))
    expect(response.status).toBe(201)
    return response.body.id as string
  })

const deliveriesOf = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; body: string }>`
      SELECT delivery_id, event_kind, body FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`)

/** Rows the autopop route writes for the tenant, to check that a request wrote nothing. */
const autopopRows = (companyId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ autopops: number; events: number; deliveries: number }>`
      SELECT
        (SELECT count(*)::int FROM realtime_autopops WHERE company_id = ${companyId}) AS autopops,
        (SELECT count(*)::int FROM events WHERE company_id = ${companyId}) AS events,
        (SELECT count(*)::int FROM webhook_deliveries WHERE company_id = ${companyId}) AS deliveries`
    return row!
  })

describe("Realtime sessions and autopop", () => {
  // The real clock: the timestamps written by the service only need to fall within the request.
  layer(TestServerLive(), { excludeTestServices: true })((it) => {
    it.effect("session records a finished call", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const before = yield* Clock.currentTimeMillis

        const response = yield* sendAs(tenant.token, "POST", "/v1/realtime-sessions", sessionBody(tenant.userId))

        expect(response.status).toBe(201)
        expect(response.body.user_id).toBe(tenant.userId)
        expect(response.body.started_at).toBe("2026-05-19T13:33:08.123Z")
        expect(response.body.ended_at).toBe("2026-05-19T13:42:08.123Z")
        expect(response.body.duration_seconds).toBe(540)
        expect(Date.parse(response.body.created_at)).toBeGreaterThanOrEqual(before)

        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ company_id: string; duration_seconds: number; transcript: unknown }>`
          SELECT company_id, duration_seconds, transcript FROM realtime_sessions WHERE id = ${response.body.id}`
        expect(row!.company_id).toBe(tenant.companyId)
        expect(row!.duration_seconds).toBe(540)
        expect(row!.transcript).toEqual(transcript)
      }))

    it.effect("session accepts time zone offsets", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const response = yield* sendAs(tenant.token, "POST", "/v1/realtime-sessions", sessionBody(tenant.userId, {
          started_at: "2026-05-19T15:33:08+02:00",
          ended_at: "2026-05-19T13:34:38.600Z"
        }))
        expect(response.status).toBe(201)
        expect(response.body.started_at).toBe("2026-05-19T13:33:08.000Z")
        expect(response.body.duration_seconds).toBe(91)
      }))

    it.effect("invalid sessions are 400 naming the field", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const cases: ReadonlyArray<[unknown, string]> = [
          [sessionBody(tenant.userId, { ended_at: "2026-05-19T13:33:08.123Z" }), "ended_at"],
          [sessionBody(tenant.userId, { ended_at: "2026-05-19T13:00:00.000Z" }), "ended_at"],
          [sessionBody(tenant.userId, { started_at: "1926-12-04T10:00:00.000Z" }), "ended_at"],
          [sessionBody(tenant.userId, { started_at: "May 19, 2026" }), "started_at"],
          [sessionBody(tenant.userId, { started_at: "2026-05-19T13:33:08" }), "started_at"],
          [sessionBody(tenant.userId, { ended_at: "2026-13-45T99:00:00Z" }), "ended_at"],
          [sessionBody("42"), "user_id"],
          [sessionBody(tenant.userId, { transcript: [] }), "transcript"],
          [sessionBody(tenant.userId, { transcript: [{ speaker: "prospect", text: "Hi." }] }), "speaker"],
          [sessionBody(tenant.userId, { transcript: [{ speaker: "rep", text: "x".repeat(4001) }] }), "text"],
          [{ user_id: tenant.userId, started_at: "2026-05-19T13:33:08.123Z", transcript }, "ended_at"]
        ]
        for (const [body, field] of cases) {
          const response = yield* sendAs(tenant.token, "POST", "/v1/realtime-sessions", body)
          expect(response.status, JSON.stringify(body).slice(0, 200)).toBe(400)
          expect(JSON.stringify(response.body), field).toContain(field)
        }

        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql`SELECT 1 FROM realtime_sessions WHERE company_id = ${tenant.companyId}`
        expect(rows).toHaveLength(0)
      }))

    it.effect("session of unknown or foreign user is 404", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        for (const userId of [other.userId, randomUUID()]) {
          const response = yield* sendAs(tenant.token, "POST", "/v1/realtime-sessions", sessionBody(userId))
          expect(response.status).toBe(404)
          expect(response.body.message).toContain(userId)
        }
      }))

    it.effect("autopop queues realtime.autopop_ready", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        const sessionId = yield* recordSession(tenant)
        const before = yield* Clock.currentTimeMillis

        const response = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`)

        expect(response.status).toBe(201)
        const assistId: string = response.body.assist_id
        expect(response.body).toEqual({
          assist_id: assistId,
          session_id: sessionId,
          user_id: tenant.userId,
          summary: expectedSummary,
          next_step: "Rep: I'll send the security questionnaire to you by Friday.",
          key_topics: ["pricing", "timeline", "security review"],
          draft_followup_email: expectedEmail,
          duration_seconds: 540,
          created_at: response.body.created_at
        })
        expect(Date.parse(response.body.created_at)).toBeGreaterThanOrEqual(before)

        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries).toHaveLength(1)
        expect(deliveries[0]!.event_kind).toBe("realtime.autopop_ready")
        const deliveryId = `realtime_autopop.${assistId}:${subscription}`
        expect(deliveries[0]!.delivery_id).toBe(deliveryId)
        const body = JSON.parse(deliveries[0]!.body)
        Schema.decodeUnknownSync(catalog["realtime.autopop_ready"].schema)(body)
        expect(body).toEqual({
          event_kind: "realtime.autopop_ready",
          company_id: tenant.companyId,
          assist_id: assistId,
          user_id: tenant.userId,
          summary: expectedSummary,
          next_step: "Rep: I'll send the security questionnaire to you by Friday.",
          key_topics: ["pricing", "timeline", "security review"],
          draft_followup_email: expectedEmail,
          duration_seconds: 540,
          delivery_id: deliveryId
        })
      }))

    it.effect("repeated autopop fires nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        const sessionId = yield* recordSession(tenant)
        const path = `/api/realtime/sessions/${sessionId}/autopop`

        const first = yield* sendAs(tenant.token, "POST", path)
        const second = yield* sendAs(tenant.token, "POST", path)

        expect(first.status).toBe(201)
        expect(second.status).toBe(200)
        expect(second.body).toEqual(first.body)
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
        expect(yield* autopopRows(tenant.companyId)).toEqual({ autopops: 1, events: 1, deliveries: 1 })
      }))

    it.effect("concurrent autopops create one", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        const sessionId = yield* recordSession(tenant)

        const responses = yield* Effect.all(
          Array.from({ length: 4 }, () => sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`)),
          { concurrency: "unbounded" }
        )

        expect(responses.map((response) => response.status).sort()).toEqual([200, 200, 200, 201])
        expect(new Set(responses.map((response) => response.body.assist_id)).size).toBe(1)
        expect(yield* autopopRows(tenant.companyId)).toEqual({ autopops: 1, events: 1, deliveries: 1 })
      }))

    it.effect("filtered and paused subscriptions get nothing", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const matching = yield* insertSubscription(tenant.companyId, { eventKinds: ["realtime.autopop_ready"] })
        const filteredOut = yield* insertSubscription(tenant.companyId, { eventKinds: ["real_call.imported"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const sessionId = yield* recordSession(tenant)

        const response = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`)

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
        const sessionId = yield* recordSession(tenant)
        // The trigger fails the event insert, which runs after the autopop insert.
        yield* sql`
          CREATE FUNCTION reject_autopop_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'event rejected by test trigger'; END $$`
        yield* sql`
          CREATE TRIGGER reject_autopop_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'realtime.autopop_ready') EXECUTE FUNCTION reject_autopop_event()`

        const response = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`).pipe(
          Effect.ensuring(Effect.orDie(sql`DROP FUNCTION reject_autopop_event() CASCADE`))
        )

        expect(response.status).toBe(500)
        expect(response.body._tag).toBe("InternalError")
        expect(JSON.stringify(response.body)).not.toContain("test trigger")
        expect(yield* autopopRows(tenant.companyId)).toEqual({ autopops: 0, events: 0, deliveries: 0 })

        const retried = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`)
        expect(retried.status).toBe(201)
        expect(yield* autopopRows(tenant.companyId)).toEqual({ autopops: 1, events: 1, deliveries: 1 })
      }))

    it.effect("unknown or foreign session is 404", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const foreignSession = yield* recordSession(other)

        for (const sessionId of [foreignSession, randomUUID()]) {
          const response = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${sessionId}/autopop`)
          expect(response.status).toBe(404)
          expect(response.body._tag).toBe("NotFound")
          expect(response.body.message).toContain(sessionId)
        }
        expect(yield* autopopRows(other.companyId)).toEqual({ autopops: 0, events: 0, deliveries: 0 })

        const invalid = yield* sendAs(tenant.token, "POST", "/api/realtime/sessions/not-a-uuid/autopop")
        expect(invalid.status).toBe(400)
        expect(JSON.stringify(invalid.body)).toContain("id")
      }))

    it.effect("live session is 409", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenant = yield* createTenantWithUser("Acme")
        yield* insertSubscription(tenant.companyId)
        const liveSession = randomUUID()
        yield* sql`
          INSERT INTO realtime_sessions (id, company_id, user_id, started_at, transcript)
          VALUES (${liveSession}, ${tenant.companyId}, ${tenant.userId}, now(), ${JSON.stringify(transcript)}::jsonb)`

        const response = yield* sendAs(tenant.token, "POST", `/api/realtime/sessions/${liveSession}/autopop`)

        expect(response.status).toBe(409)
        expect(response.body._tag).toBe("Conflict")
        expect(response.body.message).toContain(liveSession)
        expect(yield* autopopRows(tenant.companyId)).toEqual({ autopops: 0, events: 0, deliveries: 0 })
      }))

    it.effect("read-only token is 403", () =>
      Effect.gen(function*() {
        const writer = yield* createTenantWithUser("Acme")
        const sessionId = yield* recordSession(writer)
        const sql = yield* SqlClient.SqlClient
        const readOnlyToken = `sl_token_${"r".repeat(40)}`
        yield* sql`
          INSERT INTO api_tokens (id, company_id, name, scopes, token_hash, token_prefix)
          VALUES (${randomUUID()}, ${writer.companyId}, 'read only', ${["read"]}, ${sha256Hex(readOnlyToken)}, 'sl_token_rrr')`

        const autopop = yield* sendAs(readOnlyToken, "POST", `/api/realtime/sessions/${sessionId}/autopop`)
        const session = yield* sendAs(readOnlyToken, "POST", "/v1/realtime-sessions", sessionBody(writer.userId))

        expect(autopop.status).toBe(403)
        expect(session.status).toBe(403)
        expect(yield* autopopRows(writer.companyId)).toEqual({ autopops: 0, events: 0, deliveries: 0 })
      }))
  })
})
