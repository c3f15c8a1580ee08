import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { decodeBody, deliveriesOf, eventCount, rejectEventsOf } from "../gamification/EventFixtures.ts"
import { createTenantWithUser, insertSubscription, sendJson, startClock } from "../practice/PracticeFixtures.ts"
import { TestServerLive } from "../support/TestServer.ts"

const day = 86_400_000

type Tenant = { readonly companyId: string; readonly userId: string; readonly token: string }

/**
 * Moves the test clock at least 40 days ahead, to 13:45 UTC, so that each
 * test starts on a day of its own. Returns the new time in milliseconds.
 */
const freshDay = Effect.gen(function*() {
  yield* startClock
  const now = yield* Clock.currentTimeMillis
  const target = Date.parse(`${new Date(now + 40 * day).toISOString().slice(0, 10)}T13:45:00.000Z`)
  yield* TestClock.setTime(target)
  return target
})

/** Inserts one session of the user per instant: completed at that instant, or only started. */
const practisedAt = (tenant: Tenant, instants: ReadonlyArray<number>, status: "completed" | "started" = "completed") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const scenarioId = randomUUID()
    yield* sql`
      INSERT INTO scenarios (id, company_id, title, prompt)
      VALUES (${scenarioId}, ${tenant.companyId}, ${"Streak drill"}, ${"A buyer who wants a discount."})`
    for (const instant of instants) {
      yield* sql`
        INSERT INTO practice_sessions (id, company_id, user_id, scenario_id, status, started_at, ended_at)
        VALUES (${randomUUID()}, ${tenant.companyId}, ${tenant.userId}, ${scenarioId}, ${status},
          ${new Date(instant - 600_000)}, ${status === "completed" ? new Date(instant) : null})`
    }
  })

const checkIn = (tenant: Tenant, userId = tenant.userId) =>
  sendJson(tenant.token, "POST", "/api/coaching/streak", { user_id: userId })

const streakRow = (userId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{
      current_streak: number
      longest_streak: number
      last_practice_day: string | null
      last_reported_break_day: string | null
    }>`
      SELECT current_streak, longest_streak, last_practice_day::text AS last_practice_day,
        last_reported_break_day::text AS last_reported_break_day
      FROM user_streaks WHERE user_id = ${userId}`).pipe(Effect.map((rows) => rows[0]))

const calendarDay = (millis: number) => new Date(millis).toISOString().slice(0, 10)

describe("Streak check-in", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("streak through today is current", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* practisedAt(tenant, [now - 2 * day, now - day, now - day + 60_000, now - 3_600_000])

        const response = yield* checkIn(tenant)

        expect(response.status).toBe(200)
        expect(response.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 3,
          longest_streak: 3,
          broke_streak: false,
          broken_at_value: null
        })
        expect(yield* streakRow(tenant.userId)).toStrictEqual({
          current_streak: 3,
          longest_streak: 3,
          last_practice_day: calendarDay(now),
          last_reported_break_day: null
        })
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)
      }))

    it.effect("streak through yesterday is current", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        yield* practisedAt(tenant, [now - 2 * day, now - day])

        const response = yield* checkIn(tenant)

        expect(response.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 2,
          longest_streak: 2,
          broke_streak: false,
          broken_at_value: null
        })
      }))

    it.effect("no practice is a zero streak", () =>
      Effect.gen(function*() {
        yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const response = yield* checkIn(tenant)
        expect(response.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 0,
          longest_streak: 0,
          broke_streak: false,
          broken_at_value: null
        })
      }))

    it.effect("broken streak fires once", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const everything = yield* insertSubscription(tenant.companyId)
        const streaksOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["coaching.streak_broken"] })
        const badgesOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const other = yield* createTenantWithUser("Globex")
        const foreign = yield* insertSubscription(other.companyId)
        yield* practisedAt(tenant, [now - 5 * day, now - 4 * day, now - 3 * day, now - 2 * day])
        // A call that started yesterday but never completed is not practice.
        yield* practisedAt(tenant, [now - day], "started")
        const brokenAt = new Date(now).toISOString()

        const response = yield* checkIn(tenant)

        expect(response.status).toBe(200)
        expect(response.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 0,
          longest_streak: 4,
          broke_streak: true,
          broken_at_value: 4
        })
        for (const subscription of [everything, streaksOnly]) {
          const deliveries = yield* deliveriesOf(subscription)
          expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
            `coaching.streak_broken:${tenant.userId}:${brokenAt}:${subscription}`
          ])
          expect(decodeBody("coaching.streak_broken", deliveries[0]!.body)).toStrictEqual({
            event_kind: "coaching.streak_broken",
            company_id: tenant.companyId,
            user_id: tenant.userId,
            broke_at_value: 4,
            broken_at: brokenAt
          })
        }
        expect(yield* deliveriesOf(badgesOnly)).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)
        expect(yield* deliveriesOf(foreign)).toHaveLength(0)
        expect(yield* streakRow(tenant.userId)).toStrictEqual({
          current_streak: 0,
          longest_streak: 4,
          last_practice_day: calendarDay(now - 2 * day),
          last_reported_break_day: calendarDay(now - 2 * day)
        })
        const events = yield* eventCount("coaching.streak_broken")

        yield* TestClock.adjust("1 hour")
        const again = yield* checkIn(tenant)
        expect(again.body).toMatchObject({ broke_streak: false, broken_at_value: null, longest_streak: 4 })
        yield* TestClock.adjust("1 day")
        const nextDay = yield* checkIn(tenant)
        expect(nextDay.body).toMatchObject({ broke_streak: false, broken_at_value: null })
        expect(yield* eventCount("coaching.streak_broken")).toBe(events)
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
      }))

    it.effect("later streak breaks fire again", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: ["coaching.streak_broken"] })
        yield* practisedAt(tenant, [now - 6 * day, now - 5 * day, now - 4 * day])
        expect((yield* checkIn(tenant)).body).toMatchObject({ broke_streak: true, broken_at_value: 3 })

        // A new two-day streak starts today and ends tomorrow; the day after next finds it broken.
        yield* practisedAt(tenant, [now, now + day])
        yield* TestClock.adjust("1 day")
        expect((yield* checkIn(tenant)).body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 2,
          longest_streak: 3,
          broke_streak: false,
          broken_at_value: null
        })
        yield* TestClock.adjust("2 days")
        const secondBreakAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const broken = yield* checkIn(tenant)

        expect(broken.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 0,
          longest_streak: 3,
          broke_streak: true,
          broken_at_value: 2
        })
        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries).toHaveLength(2)
        expect(deliveries[1]!.delivery_id).toBe(`coaching.streak_broken:${tenant.userId}:${secondBreakAt}:${subscription}`)
        expect(decodeBody("coaching.streak_broken", deliveries[1]!.body)).toMatchObject({
          broke_at_value: 2,
          broken_at: secondBreakAt
        })
      }))

    it.effect("single practice day is no streak", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* practisedAt(tenant, [now - 3 * day])

        const response = yield* checkIn(tenant)

        expect(response.body).toStrictEqual({
          user_id: tenant.userId,
          current_streak: 0,
          longest_streak: 1,
          broke_streak: false,
          broken_at_value: null
        })
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)
      }))

    it.effect("days follow company time zone", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const sql = yield* SqlClient.SqlClient
        const newYork = yield* createTenantWithUser("Acme East")
        const utc = yield* createTenantWithUser("Acme UTC")
        yield* sql`UPDATE companies SET time_zone = 'America/New_York' WHERE id = ${newYork.companyId}`
        // 02:00 UTC is still the previous evening in New York (UTC-4 or UTC-5).
        const earlyUtc = (daysAgo: number) => Date.parse(`${calendarDay(now - daysAgo * day)}T02:00:00.000Z`)
        for (const tenant of [newYork, utc]) yield* practisedAt(tenant, [earlyUtc(2), earlyUtc(1)])

        const inUtc = yield* checkIn(utc)
        const inNewYork = yield* checkIn(newYork)

        expect(inUtc.body).toMatchObject({ current_streak: 2, broke_streak: false, broken_at_value: null })
        expect(inNewYork.body).toMatchObject({ current_streak: 0, broke_streak: true, broken_at_value: 2 })
        expect((yield* streakRow(newYork.userId))!.last_practice_day).toBe(calendarDay(now - 2 * day))
        expect((yield* streakRow(utc.userId))!.last_practice_day).toBe(calendarDay(now - day))
      }))

    it.effect("unknown time zone falls back to UTC", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const sql = yield* SqlClient.SqlClient
        const tenant = yield* createTenantWithUser("Acme")
        yield* sql`UPDATE companies SET time_zone = 'Mars/Olympus_Mons' WHERE id = ${tenant.companyId}`
        yield* practisedAt(tenant, [now - day, now])

        const response = yield* checkIn(tenant)

        expect(response.status).toBe(200)
        expect(response.body).toMatchObject({ current_streak: 2, broke_streak: false })
      }))

    it.effect("concurrent check-ins report once", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* practisedAt(tenant, [now - 2 * day, now - day])
        // The first check-in creates the streak row, so the concurrent ones below contend for its lock.
        expect((yield* checkIn(tenant)).body).toMatchObject({ current_streak: 2, broke_streak: false })
        yield* TestClock.adjust("2 days")

        const responses = yield* Effect.all([checkIn(tenant), checkIn(tenant), checkIn(tenant)], {
          concurrency: "unbounded"
        })

        expect(responses.map((response) => response.status)).toEqual([200, 200, 200])
        expect(responses.filter((response) => response.body!.broke_streak === true)).toHaveLength(1)
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
      }))

    it.effect("invalid input is rejected", () =>
      Effect.gen(function*() {
        yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const readOnly = yield* createTenantWithUser("Readers", ["read"])
        const sql = yield* SqlClient.SqlClient
        const rowsBefore = yield* sql`SELECT user_id FROM user_streaks`

        for (const body of [{}, { user_id: "42" }, { user_id: null }]) {
          const response = yield* sendJson(tenant.token, "POST", "/api/coaching/streak", body)
          expect(response.status, JSON.stringify(body)).toBe(400)
          expect(JSON.stringify(response.body), JSON.stringify(body)).toContain("user_id")
        }
        const unknownUser = randomUUID()
        for (const userId of [unknownUser, other.userId]) {
          const response = yield* checkIn(tenant, userId)
          expect(response.status).toBe(404)
          expect(response.body).toStrictEqual({ _tag: "NotFound", message: `User ${userId} not found.` })
        }
        const forbidden = yield* checkIn(readOnly)
        expect(forbidden.status).toBe(403)

        expect(yield* sql`SELECT user_id FROM user_streaks`).toHaveLength(rowsBefore.length)
      }))

    it.effect("failed publish rolls back check-in", () =>
      Effect.gen(function*() {
        const now = yield* freshDay
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* practisedAt(tenant, [now - 3 * day, now - 2 * day])

        const failed = yield* Effect.scoped(Effect.zipRight(rejectEventsOf("coaching.streak_broken"), checkIn(tenant)))

        expect(failed.status).toBe(500)
        expect(failed.body!._tag).toBe("InternalError")
        expect(JSON.stringify(failed.body)).not.toContain("test trigger")
        expect(yield* streakRow(tenant.userId)).toBeUndefined()
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        const retried = yield* checkIn(tenant)
        expect(retried.body).toMatchObject({ broke_streak: true, broken_at_value: 2 })
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
      }))
  })
})
