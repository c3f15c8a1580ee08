import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Either, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { briefsTimeZone, briefWeekAt } from "../../src/coaching/BriefsSchedule.ts"
import { catalog } from "../../src/events/Catalog.ts"
import { insertSubscription } from "../practice/PracticeFixtures.ts"
import { SmtpSink } from "../support/SmtpSink.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"
import { testOperatorToken, TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import {
  briefDeliveries,
  briefsOf,
  insertScenario,
  insertScorecard,
  insertUser,
  type ScorecardFields
} from "./BriefsFixtures.ts"

// The cron route runs the job on the real clock, so this suite does too.
const SuiteLive = Layer.unwrapEffect(
  Effect.map(SmtpSink, (sink) => TestServerLive({ smtpUrl: Option.some(Redacted.make(sink.url)) }))
).pipe(Layer.provideMerge(SmtpSink.layer))

const pilotClose: ScorecardFields = {
  overall_score: 95,
  verdict: "pass",
  category_scores: { discovery: 10, closing: 9 },
  best_line: "Let's put a date on the pilot.",
  worst_line: "Um, so, yeah.",
  next_drill: "multi-threading the deal"
}

const expectedCelebrate = [
  "Passed Pilot close with a score of 95",
  "Strong discovery: 10 out of 10",
  "Best line: \"Let's put a date on the pilot.\""
]
const expectedCoach = [
  "Next drill: multi-threading the deal",
  "Rework this line: \"Um, so, yeah.\"",
  "Aim for at least three practice sessions next week"
]
const expectedSummary = "Strong week: 1 practice session, 1 passed, average score 95."

/** The week the job covers now, in UTC, the service's default brief time zone. */
const lastWeek = Effect.map(
  Clock.currentTimeMillis,
  (now) => briefWeekAt(new Date(now), Either.getOrThrow(briefsTimeZone("UTC")))
)

const postCron = (job: string) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const response = yield* HttpClient.execute(
      HttpClientRequest.post(`${baseUrl}/api/cron/${job}`).pipe(HttpClientRequest.bearerToken(testOperatorToken))
    )
    return response.status
  }).pipe(Effect.provide(FetchHttpClient.layer))

/** Waits until the user's brief is stored: the job commits it just after the mail server accepts the mail. */
const awaitBrief = (userId: string) =>
  briefsOf([userId]).pipe(
    Effect.filterOrFail((rows) => rows.length > 0, () => new Error(`No coaching brief stored for user ${userId}.`)),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(Duration.seconds(20))))
  )

describe("GET /v1/users/{id}/coaching-brief", () => {
  layer(SuiteLive, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("cron route mails and publishes a brief", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        const week = yield* lastWeek
        const tenant = yield* createTenant("Acme")
        const rep = yield* insertUser(tenant.companyId, "Riley Rep")
        const scenarioId = yield* insertScenario(tenant.companyId, "Pilot close")
        const createdAt = new Date(week.from.getTime() + Duration.toMillis("2 days")).toISOString()
        yield* insertScorecard({ companyId: tenant.companyId, userId: rep.id, scenarioId }, createdAt, pilotClose)
        const subscription = yield* insertSubscription(tenant.companyId)

        expect(yield* postCron("coaching-briefs")).toBe(202)
        const [brief] = yield* awaitBrief(rep.id)

        const mails = (yield* sink.messages).filter((mail) => mail.to[0] === rep.email)
        expect(mails).toHaveLength(1)
        expect(mails[0]!.messageId).toBe(brief!.message_id)
        expect(brief!.week_start).toBe(week.weekStart)
        expect(brief!.week_end).toBe(week.weekEnd)

        const [delivery] = yield* briefDeliveries(subscription)
        const body = JSON.parse(delivery!.body)
        expect(() => Schema.decodeUnknownSync(catalog["coaching.brief_delivered"].schema)(body)).not.toThrow()
        expect(body).toEqual({
          event_kind: "coaching.brief_delivered",
          company_id: tenant.companyId,
          user_id: rep.id,
          brief_id: brief!.id,
          week_start: week.weekStart,
          week_end: week.weekEnd,
          summary: expectedSummary,
          celebrate: expectedCelebrate,
          coach: expectedCoach
        })
        expect(delivery!.delivery_id).toBe(`coaching.brief_delivered:${brief!.id}:${subscription}`)

        expect(yield* postCron("coaching-briefs")).toBe(202)
        yield* Effect.sleep("1 second")
        expect((yield* sink.messages).filter((mail) => mail.to[0] === rep.email)).toHaveLength(1)
        expect(yield* briefDeliveries(subscription)).toHaveLength(1)
      }))

    it.effect("returns the latest brief", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenant = yield* createTenant("Globex")
        const rep = yield* insertUser(tenant.companyId, "Sam Rep")
        const newest = randomUUID()
        for (const [id, weekStart, weekEnd, summary] of [
          [randomUUID(), "2026-05-04", "2026-05-10", "Older week."],
          [newest, "2026-05-11", "2026-05-17", "Newest week."],
          [randomUUID(), "2026-04-27", "2026-05-03", "Oldest week."]
        ] as const) {
          yield* sql`
            INSERT INTO coaching_briefs
              (id, company_id, user_id, week_start, week_end, summary, celebrate, coach, sent_at, message_id)
            VALUES (${id}, ${tenant.companyId}, ${rep.id}, ${weekStart}::date, ${weekEnd}::date, ${summary},
              ${["One", "Two", "Three"]}, ${["Four", "Five", "Six"]}, ${new Date(`${weekEnd}T18:00:00.123Z`)},
              ${`<${id}@example.com>`})`
        }

        const response = yield* sendAs(tenant.token, "GET", `/v1/users/${rep.id}/coaching-brief`)

        expect(response.status).toBe(200)
        expect(response.body).toEqual({
          id: newest,
          user_id: rep.id,
          week_start: "2026-05-11",
          week_end: "2026-05-17",
          summary: "Newest week.",
          celebrate: ["One", "Two", "Three"],
          coach: ["Four", "Five", "Six"],
          sent_at: "2026-05-17T18:00:00.123Z"
        })
      }))

    it.effect("unknown, foreign or briefless user is 404", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenant("Initech")
        const other = yield* createTenant("Umbrella")
        const briefless = yield* insertUser(tenant.companyId, "New Rep")
        const foreign = yield* insertUser(other.companyId, "Foreign Rep")
        const unknownId = randomUUID()

        const none = yield* sendAs(tenant.token, "GET", `/v1/users/${briefless.id}/coaching-brief`)
        expect(none.status).toBe(404)
        expect(none.body).toEqual({ _tag: "NotFound", message: `User ${briefless.id} has no coaching brief yet.` })

        const unknown = yield* sendAs(tenant.token, "GET", `/v1/users/${unknownId}/coaching-brief`)
        expect(unknown.status).toBe(404)
        expect(unknown.body).toEqual({ _tag: "NotFound", message: `User ${unknownId} not found.` })

        const crossTenant = yield* sendAs(tenant.token, "GET", `/v1/users/${foreign.id}/coaching-brief`)
        expect(crossTenant.status).toBe(404)
        expect(crossTenant.body).toEqual({ _tag: "NotFound", message: `User ${foreign.id} not found.` })
      }))

    it.effect("invalid user id is 400", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenant("Hooli")

        const response = yield* sendAs(tenant.token, "GET", "/v1/users/not-a-uuid/coaching-brief")

        expect(response.status).toBe(400)
        expect(JSON.stringify(response.body)).toContain("id")
      }))

    it.effect("token without read scope is 403", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenant("Vandelay", ["write"])
        const rep = yield* insertUser(tenant.companyId, "Pat Rep")

        const response = yield* sendAs(tenant.token, "GET", `/v1/users/${rep.id}/coaching-brief`)

        expect(response.status).toBe(403)
        expect(response.body._tag).toBe("Forbidden")
      }))
  })
})
