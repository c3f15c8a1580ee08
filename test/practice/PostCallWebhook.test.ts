import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { TestServerLive } from "../support/TestServer.ts"
import {
  createTenantWithUser,
  insertSubscription,
  postCallBody,
  postWebhook,
  sendJson,
  signNow,
  startClock,
  startPracticeCall,
  testNow,
  writtenRows
} from "./PracticeFixtures.ts"

const endedAt = "2026-05-19T13:41:27.000Z"

const sampleScorecard = {
  overall_score: 78,
  headline: "Strong discovery, shaky first answer on price, clean close.",
  category_scores: { discovery: 9, objection_handling: 6, control: 8, rapport: 7, closing: 9 },
  best_line: "What does one missed window cost you with those grocery accounts?",
  worst_line: "Yeah, I mean, we're not the cheapest either, but it's really worth it.",
  next_drill: "objection handling under price pressure"
}

/** A tenant with a started practice call and the signed-off body of its post-call webhook. */
const startedCall = (passMark = 70) =>
  Effect.gen(function*() {
    yield* startClock
    const tenant = yield* createTenantWithUser("Acme")
    const call = yield* startPracticeCall(tenant, passMark)
    const body = postCallBody(call.dynamic_variables)
    return { tenant, call, body }
  })

const sessionRow = (sessionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ status: string; ended_at: Date | null; conversation_id: string | null }>`
      SELECT status, ended_at, conversation_id FROM practice_sessions WHERE id = ${sessionId}`).pipe(
    Effect.map((rows) => rows[0]!)
  )

/** The session deliveries of a subscription; a first pass also awards a badge, which the badge suites cover. */
const deliveriesOf = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; body: string; company_id: string }>`
      SELECT delivery_id, event_kind, body, company_id FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId}
        AND event_kind IN ('session.completed', 'session.scorecard_finalized')
      ORDER BY id`)

describe("ElevenLabs post-call webhook", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("completes session and queues both events", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall()
        const everything = yield* insertSubscription(tenant.companyId)
        const completedOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["session.completed"] })
        const otherKind = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const otherTenant = yield* createTenantWithUser("Globex")
        const foreign = yield* insertSubscription(otherTenant.companyId)

        const response = yield* postWebhook(body, yield* signNow(body))

        expect(response.status).toBe(200)
        const scorecardId = response.body!.scorecard_id as string
        expect(response.body).toStrictEqual({ status: "processed", session_id: call.session_id, scorecard_id: scorecardId })

        const session = yield* sessionRow(call.session_id)
        expect(session.status).toBe("completed")
        expect(session.ended_at?.toISOString()).toBe(endedAt)
        expect(session.conversation_id).toBe("conv_4801k0pt2m6ef3qv8s1yxr7kgn")

        const sessionCompleted = {
          event_kind: "session.completed",
          company_id: tenant.companyId,
          session: { id: call.session_id, user_id: tenant.userId, scenario_id: call.scenario_id, ended_at: endedAt }
        }
        const scorecardFinalized = {
          event_kind: "session.scorecard_finalized",
          company_id: tenant.companyId,
          session_id: call.session_id,
          user_id: tenant.userId,
          scorecard: { id: scorecardId, verdict: "pass", ...sampleScorecard }
        }

        const toEverything = yield* deliveriesOf(everything)
        expect(toEverything.map((delivery) => delivery.delivery_id)).toEqual([
          `session.completed:${call.session_id}:${everything}`,
          `scorecard.finalized:${scorecardId}:${everything}`
        ])
        expect(toEverything.map((delivery) => delivery.event_kind)).toEqual([
          "session.completed",
          "session.scorecard_finalized"
        ])
        expect(JSON.parse(toEverything[0]!.body)).toStrictEqual({
          ...sessionCompleted,
          delivery_id: `session.completed:${call.session_id}:${everything}`
        })
        expect(JSON.parse(toEverything[1]!.body)).toStrictEqual({
          ...scorecardFinalized,
          delivery_id: `scorecard.finalized:${scorecardId}:${everything}`
        })
        expect(Object.keys(JSON.parse(toEverything[1]!.body))).toEqual([
          "event_kind",
          "company_id",
          "session_id",
          "user_id",
          "scorecard",
          "delivery_id"
        ])

        const toCompletedOnly = yield* deliveriesOf(completedOnly)
        expect(toCompletedOnly.map((delivery) => delivery.delivery_id)).toEqual([
          `session.completed:${call.session_id}:${completedOnly}`
        ])
        expect(JSON.parse(toCompletedOnly[0]!.body)).toStrictEqual({
          ...sessionCompleted,
          delivery_id: `session.completed:${call.session_id}:${completedOnly}`
        })
        expect(yield* deliveriesOf(otherKind)).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)
        expect(yield* deliveriesOf(foreign)).toHaveLength(0)
      }))

    it.effect("scorecard readable only by its tenant", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall()
        const response = yield* postWebhook(body, yield* signNow(body))
        const scorecardId = response.body!.scorecard_id as string

        const scorecard = yield* sendJson(tenant.token, "GET", `/v1/sessions/${call.session_id}/scorecard`)
        expect(scorecard.status).toBe(200)
        expect(scorecard.body).toStrictEqual({
          id: scorecardId,
          session_id: call.session_id,
          user_id: tenant.userId,
          scenario_id: call.scenario_id,
          verdict: "pass",
          ...sampleScorecard,
          created_at: scorecard.body!.created_at
        })
        expect(Date.parse(scorecard.body!.created_at)).toBeGreaterThanOrEqual(testNow)

        const sessions = yield* sendJson(tenant.token, "GET", `/v1/sessions?user_id=${tenant.userId}`)
        expect(sessions.body!.data[0]).toMatchObject({ id: call.session_id, status: "completed", ended_at: endedAt })

        const other = yield* createTenantWithUser("Globex")
        const foreign = yield* sendJson(other.token, "GET", `/v1/sessions/${call.session_id}/scorecard`)
        expect(foreign.status).toBe(404)
        expect(foreign.body!.message).toBe(`Practice session ${call.session_id} not found.`)
      }))

    it.effect("verdict follows the scenario pass mark", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall(80)
        yield* postWebhook(body, yield* signNow(body))
        const scorecard = yield* sendJson(tenant.token, "GET", `/v1/sessions/${call.session_id}/scorecard`)
        expect(scorecard.body!.overall_score).toBe(78)
        expect(scorecard.body!.verdict).toBe("fail")
      }))

    it.effect("repeated webhook writes nothing", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall()
        const subscription = yield* insertSubscription(tenant.companyId)
        const first = yield* postWebhook(body, yield* signNow(body))
        const before = yield* writtenRows

        const second = yield* postWebhook(body, yield* signNow(body))

        expect(second.status).toBe(200)
        expect(second.body).toStrictEqual({
          status: "duplicate",
          session_id: call.session_id,
          scorecard_id: first.body!.scorecard_id
        })
        expect(yield* writtenRows).toEqual(before)
        expect(yield* deliveriesOf(subscription)).toHaveLength(2)
      }))

    it.effect("concurrent copies complete the session once", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall()
        const subscription = yield* insertSubscription(tenant.companyId)
        const signature = yield* signNow(body)

        const responses = yield* Effect.all([postWebhook(body, signature), postWebhook(body, signature)], {
          concurrency: "unbounded"
        })

        expect(responses.map((response) => response.status)).toEqual([200, 200])
        expect(responses.map((response) => response.body!.status).sort()).toEqual(["duplicate", "processed"])
        const sql = yield* SqlClient.SqlClient
        const scorecards = yield* sql`SELECT id FROM scorecards WHERE session_id = ${call.session_id}`
        expect(scorecards).toHaveLength(1)
        expect(yield* deliveriesOf(subscription)).toHaveLength(2)
      }))

    it.effect("unknown session is ignored", () =>
      Effect.gen(function*() {
        const { call, tenant } = yield* startedCall()
        yield* insertSubscription(tenant.companyId)
        const before = yield* writtenRows
        const variants: ReadonlyArray<Record<string, string>> = [
          { ...call.dynamic_variables, saleslab_session_id: randomUUID() },
          { ...call.dynamic_variables, saleslab_session_id: "not-a-session" },
          { ...call.dynamic_variables, saleslab_company_id: randomUUID() },
          {}
        ]
        for (const variables of variants) {
          const body = postCallBody(variables)
          const response = yield* postWebhook(body, yield* signNow(body))
          expect(response.status, JSON.stringify(variables)).toBe(200)
          expect(response.body, JSON.stringify(variables)).toStrictEqual({ status: "ignored" })
        }

        const withoutClientData = postCallBody({}, (payload) => {
          delete payload.data.conversation_initiation_client_data
        })
        const response = yield* postWebhook(withoutClientData, yield* signNow(withoutClientData))
        expect(response.body).toStrictEqual({ status: "ignored" })

        expect(yield* writtenRows).toEqual(before)
        expect((yield* sessionRow(call.session_id)).status).toBe("started")
      }))

    it.effect("other webhook types are ignored", () =>
      Effect.gen(function*() {
        const { body } = yield* startedCall()
        const audio = body.replace("\"post_call_transcription\"", "\"post_call_audio\"")
        const before = yield* writtenRows
        const response = yield* postWebhook(audio, yield* signNow(audio))
        expect(response.status).toBe(200)
        expect(response.body).toStrictEqual({ status: "ignored" })
        expect(yield* writtenRows).toEqual(before)
      }))

    it.effect("bad signatures are 401 and write nothing", () =>
      Effect.gen(function*() {
        const { body, call } = yield* startedCall()
        const before = yield* writtenRows
        const good = yield* signNow(body)
        const tampered = body.replace("\"value\": 78", "\"value\": 99").replace("\"value\":78", "\"value\":99")
        expect(tampered).not.toBe(body)

        const cases: ReadonlyArray<[string, string, string | undefined]> = [
          ["missing header", body, undefined],
          ["empty header", body, ""],
          ["malformed header", body, "v0=deadbeef"],
          ["other secret", body, yield* signNow(body, 5, "wsec_some_other_secret")],
          ["changed body", tampered, good],
          ["expired", body, yield* signNow(body, 31 * 60)],
          ["from the future", body, yield* signNow(body, -31 * 60)],
          ["bad signature on invalid JSON", "{not json", good]
        ]
        for (const [name, payload, signature] of cases) {
          const response = yield* postWebhook(payload, signature)
          expect(response.status, name).toBe(401)
          expect(response.body!._tag, name).toBe("Unauthorized")
        }

        expect(yield* writtenRows).toEqual(before)
        expect((yield* sessionRow(call.session_id)).status).toBe("started")

        const late = yield* postWebhook(body, yield* signNow(body, 29 * 60))
        expect(late.body!.status).toBe("processed")
      }))

    it.effect("invalid payload is 400 naming the field", () =>
      Effect.gen(function*() {
        const { call } = yield* startedCall()
        const before = yield* writtenRows

        const notJson = "{\"type\": \"post_call_transcription\", "
        const broken = yield* postWebhook(notJson, yield* signNow(notJson))
        expect(broken.status).toBe(400)
        expect(broken.body!._tag).toBe("BadRequest")
        expect(broken.body!.message).toBe("The webhook body is not valid JSON.")

        const cases: ReadonlyArray<[string, (payload: Record<string, any>) => void]> = [
          ["data.conversation_id", (payload) => delete payload.data.conversation_id],
          ["data.transcript", (payload) => delete payload.data.transcript],
          ["data.analysis", (payload) => delete payload.data.analysis],
          ["data.transcript.0.role", (payload) => (payload.data.transcript[0].role = null)],
          ["type", (payload) => delete payload.type]
        ]
        for (const [field, change] of cases) {
          const body = postCallBody(call.dynamic_variables, change)
          const response = yield* postWebhook(body, yield* signNow(body))
          expect(response.status, field).toBe(400)
          expect(response.body!.field, field).toBe(field)
          expect(response.body!.message, field).toContain(field)
        }

        expect(yield* writtenRows).toEqual(before)
      }))

    it.effect("failure rolls everything back", () =>
      Effect.gen(function*() {
        const { body, call, tenant } = yield* startedCall()
        const subscription = yield* insertSubscription(tenant.companyId)
        const sql = yield* SqlClient.SqlClient
        // The trigger fails the second event of the transaction, after the session, scorecard and first event are written.
        yield* sql.unsafe(`
          CREATE FUNCTION fail_scorecard_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'scorecard event rejected for the test'; END $$`)
        yield* sql.unsafe(`
          CREATE TRIGGER fail_scorecard_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'session.scorecard_finalized') EXECUTE FUNCTION fail_scorecard_event()`)
        const before = yield* writtenRows

        const failed = yield* postWebhook(body, yield* signNow(body)).pipe(
          Effect.ensuring(Effect.orDie(sql.unsafe("DROP TRIGGER fail_scorecard_event ON events")))
        )

        expect(failed.status).toBe(500)
        expect(failed.body!._tag).toBe("InternalError")
        expect(JSON.stringify(failed.body)).not.toContain("rejected for the test")
        expect(yield* writtenRows).toEqual(before)
        expect((yield* sessionRow(call.session_id)).status).toBe("started")
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        const retried = yield* postWebhook(body, yield* signNow(body))
        expect(retried.body!.status).toBe("processed")
        expect(yield* deliveriesOf(subscription)).toHaveLength(2)
      }))

    it.effect("route is in the OpenAPI document", () =>
      Effect.gen(function*() {
        const { tenant } = yield* startedCall()
        const document = yield* sendJson(tenant.token, "GET", "/openapi.json")
        const paths = Object.keys(document.body!.paths)
        for (const path of ["/api/webhooks/elevenlabs", "/v1/scenarios", "/v1/practice-calls", "/v1/sessions"]) {
          expect(paths, path).toContain(path)
        }
        expect(paths.some((path) => path.startsWith("/v1/sessions/") && path.endsWith("/scorecard"))).toBe(true)
      }))
  })
})
