import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import {
  createTenantWithUser,
  insertSubscription,
  postCallBody,
  postWebhook,
  sendJson,
  signNow,
  startClock,
  startPracticeCall
} from "../practice/PracticeFixtures.ts"
import { TestServerLive } from "../support/TestServer.ts"
import { decodeBody, deliveriesOf, rejectEventsOf } from "./EventFixtures.ts"

const day = 86_400_000

type Tenant = { readonly companyId: string; readonly userId: string; readonly token: string }

/** Moves the test clock at least 40 days ahead, to 13:45 UTC, and returns the new time in milliseconds. */
const freshDay = Effect.gen(function*() {
  yield* startClock
  const now = yield* Clock.currentTimeMillis
  const target = Date.parse(`${new Date(now + 40 * day).toISOString().slice(0, 10)}T13:45:00.000Z`)
  yield* TestClock.setTime(target)
  return target
})

/**
 * Starts a practice call and posts its signed post-call webhook, with the
 * agent's overall score set to `overallScore` and the call ending five
 * minutes before the current test time. Returns the call and the response.
 */
const scoredCall = (tenant: Tenant, options: { readonly overallScore?: number; readonly passMark?: number } = {}) =>
  Effect.gen(function*() {
    const call = yield* startPracticeCall(tenant, options.passMark ?? 70)
    const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const body = postCallBody(call.dynamic_variables, (payload) => {
      payload.data.metadata.start_time_unix_secs = nowSeconds - 600
      payload.data.metadata.call_duration_secs = 300
      if (options.overallScore !== undefined) {
        payload.data.analysis.data_collection_results.overall_score.value = options.overallScore
      }
    })
    const response = yield* postWebhook(body, yield* signNow(body))
    return { call, body, response }
  })

/** Inserts completed practice sessions of the user that ended at the given instants. */
const completedAt = (tenant: Tenant, instants: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const scenarioId = randomUUID()
    yield* sql`
      INSERT INTO scenarios (id, company_id, title, prompt)
      VALUES (${scenarioId}, ${tenant.companyId}, ${"Earlier drill"}, ${"A buyer who wants a discount."})`
    for (const instant of instants) {
      yield* sql`
        INSERT INTO practice_sessions (id, company_id, user_id, scenario_id, status, started_at, ended_at)
        VALUES (${randomUUID()}, ${tenant.companyId}, ${tenant.userId}, ${scenarioId}, 'completed',
          ${new Date(instant - 600_000)}, ${new Date(instant)})`
    }
  })

const badgeRows = (userId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ badge_slug: string; session_id: string | null }>`
      SELECT badge_slug, session_id FROM user_badges WHERE user_id = ${userId} ORDER BY badge_slug`)

const slugsOf = (deliveries: ReadonlyArray<{ readonly body: string }>) =>
  deliveries.map((delivery) => JSON.parse(delivery.body).badge_slug as string)

describe("Badge awards", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("first pass awards once", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const everything = yield* insertSubscription(tenant.companyId)
        const badgesOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        const sessionsOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["session.completed"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const awardedAt = new Date(now).toISOString()

        const { body, call, response } = yield* scoredCall(tenant)

        expect(response.body!.status).toBe("processed")
        expect(yield* badgeRows(tenant.userId)).toEqual([{ badge_slug: "first_pass", session_id: call.session_id }])
        for (const subscription of [everything, badgesOnly]) {
          const deliveries = yield* deliveriesOf(subscription, "badge.awarded")
          expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
            `badge.awarded:${tenant.userId}:first_pass:${subscription}`
          ])
          expect(decodeBody("badge.awarded", deliveries[0]!.body)).toStrictEqual({
            event_kind: "badge.awarded",
            company_id: tenant.companyId,
            user_id: tenant.userId,
            badge_slug: "first_pass",
            awarded_at: awardedAt
          })
        }
        expect((yield* deliveriesOf(everything)).map((delivery) => delivery.event_kind)).toEqual([
          "session.completed",
          "session.scorecard_finalized",
          "badge.awarded"
        ])
        expect(yield* deliveriesOf(sessionsOnly, "badge.awarded")).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)

        const repeated = yield* postWebhook(body, yield* signNow(body))
        expect(repeated.body!.status).toBe("duplicate")
        expect(yield* deliveriesOf(badgesOnly)).toHaveLength(1)

        yield* TestClock.adjust("1 hour")
        const secondPass = yield* scoredCall(tenant)
        expect(secondPass.response.body!.status).toBe("processed")
        expect(yield* deliveriesOf(badgesOnly)).toHaveLength(1)
        expect(yield* badgeRows(tenant.userId)).toHaveLength(1)
      }))

    it.effect("failing session earns nothing", () =>
      Effect.gen(function*() {
        yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })

        const { response } = yield* scoredCall(tenant, { passMark: 80 })

        expect(response.body!.status).toBe("processed")
        expect(yield* badgeRows(tenant.userId)).toEqual([])
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)
      }))

    it.effect("five badges make five deliveries", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        // Nine earlier sessions on the six days before today: the scored call is the tenth, on the seventh day.
        yield* completedAt(tenant, [6, 5, 4, 4, 3, 2, 2, 1, 1].map((daysAgo) => now - daysAgo * day))
        const awardedAt = new Date(now).toISOString()

        const { call, response } = yield* scoredCall(tenant, { overallScore: 100 })

        expect(response.body!.status).toBe("processed")
        const deliveries = yield* deliveriesOf(subscription)
        const expectedSlugs = ["first_pass", "ninety_score", "perfect_score", "ten_sessions", "streak_7"]
        expect(slugsOf(deliveries)).toEqual(expectedSlugs)
        expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual(
          expectedSlugs.map((slug) => `badge.awarded:${tenant.userId}:${slug}:${subscription}`)
        )
        for (const [index, slug] of expectedSlugs.entries()) {
          expect(decodeBody("badge.awarded", deliveries[index]!.body)).toStrictEqual({
            event_kind: "badge.awarded",
            company_id: tenant.companyId,
            user_id: tenant.userId,
            badge_slug: slug,
            awarded_at: awardedAt
          })
        }
        const rows = yield* badgeRows(tenant.userId)
        expect(rows.map((row) => row.badge_slug)).toEqual([...expectedSlugs].sort())
        for (const row of rows) expect(row.session_id).toBe(call.session_id)

        const eleventh = yield* scoredCall(tenant, { overallScore: 100 })
        expect(eleventh.response.body!.status).toBe("processed")
        expect(yield* deliveriesOf(subscription)).toHaveLength(5)
      }))

    it.effect("ten sessions counts completed ones", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        yield* completedAt(tenant, Array.from({ length: 8 }, (_, index) => now - (20 + index * 2) * day))
        // A started call that never ended does not count.
        yield* startPracticeCall(tenant)

        yield* scoredCall(tenant, { passMark: 80 })
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        yield* scoredCall(tenant, { passMark: 80 })
        expect(slugsOf(yield* deliveriesOf(subscription))).toEqual(["ten_sessions"])
      }))

    it.effect("streak badge follows company time zone", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const sql = yield* SqlClient.SqlClient
        const tokyo = yield* createTenantWithUser("Acme Japan")
        const utc = yield* createTenantWithUser("Acme UTC")
        yield* sql`UPDATE companies SET time_zone = 'Asia/Tokyo' WHERE id = ${tokyo.companyId}`
        const subscriptions = {
          tokyo: yield* insertSubscription(tokyo.companyId, { eventKinds: ["badge.awarded"] }),
          utc: yield* insertSubscription(utc.companyId, { eventKinds: ["badge.awarded"] })
        }
        // 20:00 UTC on each of the six days before today: the next morning in Tokyo (UTC+9), so the
        // last one falls on the same Tokyo day as today's call at 13:40 UTC (22:40 in Tokyo).
        const evenings = [6, 5, 4, 3, 2, 1].map((daysAgo) =>
          Date.parse(`${new Date(now - daysAgo * day).toISOString().slice(0, 10)}T20:00:00.000Z`)
        )
        for (const tenant of [tokyo, utc]) yield* completedAt(tenant, evenings)

        yield* scoredCall(tokyo, { passMark: 80 })
        yield* scoredCall(utc, { passMark: 80 })

        expect(slugsOf(yield* deliveriesOf(subscriptions.utc))).toEqual(["streak_7"])
        expect(yield* deliveriesOf(subscriptions.tokyo)).toHaveLength(0)
      }))

    it.effect("failed badge event rolls back the call", () =>
      Effect.gen(function*() {
        yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        const sql = yield* SqlClient.SqlClient

        const failed = yield* Effect.scoped(Effect.zipRight(rejectEventsOf("badge.awarded"), scoredCall(tenant)))

        expect(failed.response.status).toBe(500)
        expect(JSON.stringify(failed.response.body)).not.toContain("test trigger")
        expect(yield* badgeRows(tenant.userId)).toEqual([])
        const session = yield* sql<{ status: string }>`
          SELECT status FROM practice_sessions WHERE id = ${failed.call.session_id}`
        expect(session[0]!.status).toBe("started")
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        const retried = yield* postWebhook(failed.body, yield* signNow(failed.body))
        expect(retried.body!.status).toBe("processed")
        expect(slugsOf(yield* deliveriesOf(subscription, "badge.awarded"))).toEqual(["first_pass"])
      }))

    it.effect("badges route lists a user's badges", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const { call } = yield* scoredCall(tenant, { overallScore: 92 })
        yield* TestClock.adjust("1 hour")
        yield* completedAt(tenant, [now - day, now - 2 * day, now - 3 * day, now - 4 * day, now - 5 * day, now - 6 * day])
        const later = yield* scoredCall(tenant, { passMark: 80 })
        const laterAt = new Date(yield* Clock.currentTimeMillis).toISOString()

        const all = yield* sendJson(tenant.token, "GET", `/v1/users/${tenant.userId}/badges`)

        expect(all.status).toBe(200)
        expect(all.body).toStrictEqual({
          data: [
            {
              badge_slug: "streak_7",
              title: "Seven-day streak",
              description: "Practised on seven consecutive days in the company's time zone.",
              awarded_at: laterAt,
              session_id: later.call.session_id
            },
            {
              badge_slug: "ninety_score",
              title: "Ninety club",
              description: "A practice session scored 90 or more overall.",
              awarded_at: new Date(now).toISOString(),
              session_id: call.session_id
            },
            {
              badge_slug: "first_pass",
              title: "First pass",
              description: "A practice session reached the scenario's pass mark for the first time.",
              awarded_at: new Date(now).toISOString(),
              session_id: call.session_id
            }
          ],
          next_cursor: null
        })

        const first = yield* sendJson(tenant.token, "GET", `/v1/users/${tenant.userId}/badges?limit=2`)
        expect(first.body!.data.map((badge: { badge_slug: string }) => badge.badge_slug)).toEqual([
          "streak_7",
          "ninety_score"
        ])
        const second = yield* sendJson(
          tenant.token,
          "GET",
          `/v1/users/${tenant.userId}/badges?limit=2&cursor=${first.body!.next_cursor}`
        )
        expect(second.body!.data.map((badge: { badge_slug: string }) => badge.badge_slug)).toEqual(["first_pass"])
        expect(second.body!.next_cursor).toBeNull()
      }))

    it.effect("badges route rejects bad requests", () =>
      Effect.gen(function*() {
        yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const writeOnly = yield* createTenantWithUser("Writers", ["write"])
        yield* scoredCall(other)

        const foreign = yield* sendJson(tenant.token, "GET", `/v1/users/${other.userId}/badges`)
        expect(foreign.status).toBe(404)
        expect(foreign.body).toStrictEqual({ _tag: "NotFound", message: `User ${other.userId} not found.` })
        const unknown = randomUUID()
        const missing = yield* sendJson(tenant.token, "GET", `/v1/users/${unknown}/badges`)
        expect(missing.status).toBe(404)
        const badId = yield* sendJson(tenant.token, "GET", "/v1/users/42/badges")
        expect(badId.status).toBe(400)
        const badCursor = yield* sendJson(tenant.token, "GET", `/v1/users/${tenant.userId}/badges?cursor=bm90LWEtY3Vyc29y`)
        expect(badCursor.status).toBe(400)
        expect(badCursor.body!.field).toBe("cursor")
        const forbidden = yield* sendJson(writeOnly.token, "GET", `/v1/users/${writeOnly.userId}/badges`)
        expect(forbidden.status).toBe(403)
      }))
  })
})
