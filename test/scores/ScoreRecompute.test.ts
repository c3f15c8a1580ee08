import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cron, Effect, Schema, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { catalog } from "../../src/events/Catalog.ts"
import { ScoreRecompute } from "../../src/scores/ScoreRecompute.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { testOperatorToken, TestServerLive } from "../support/TestServer.ts"

// Scheduled at midnight on January 1, so that no scheduled run changes scores while the tests run.
const rarely = Cron.unsafeParse("0 0 1 1 *", "UTC")

const dayMillis = 24 * 60 * 60 * 1000

const recompute = Effect.flatMap(ScoreRecompute, (job) => job.run).pipe(Effect.provide(ScoreRecompute.Default))

/** Inserts a user of `companyId` and returns its id. */
const insertRep = (companyId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const userId = randomUUID()
    yield* sql`
      INSERT INTO users (id, company_id, email, name, role)
      VALUES (${userId}, ${companyId}, ${`rep-${userId}@example.com`}, ${"Riley Rep"}, 'rep')`
    return userId
  })

/** Inserts `count` completed sessions with scorecards of `overallScore`, created at `createdAt`. */
const insertScorecards = (companyId: string, userId: string, overallScore: number, createdAt: Date, count = 1) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const scenarioId = randomUUID()
    yield* sql`INSERT INTO scenarios (id, company_id, title, prompt) VALUES (${scenarioId}, ${companyId}, 'Drill', 'A buyer')`
    for (let index = 0; index < count; index++) {
      const sessionId = randomUUID()
      yield* sql`
        INSERT INTO practice_sessions (id, company_id, user_id, scenario_id, status, started_at, ended_at)
        VALUES (${sessionId}, ${companyId}, ${userId}, ${scenarioId}, 'completed', ${createdAt}, ${createdAt})`
      yield* sql`
        INSERT INTO scorecards (id, session_id, company_id, user_id, scenario_id, overall_score, verdict, headline,
          category_scores, best_line, worst_line, next_drill, created_at)
        VALUES (${randomUUID()}, ${sessionId}, ${companyId}, ${userId}, ${scenarioId}, ${overallScore},
          ${overallScore >= 70 ? "pass" : "fail"}, 'Headline', '{}', 'Best', 'Worst', 'Next', ${createdAt})`
    }
  })

/** Removes every score and scorecard, so each test ranks only its own reps. */
const resetScores = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM user_scores`
  yield* sql`DELETE FROM scorecards`
  yield* sql`DELETE FROM practice_sessions`
})

/** Stored scores by user id. */
const storedScores = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ user_id: string; total_score: number; percentile: number; tier: string; computed_at: Date }>`
    SELECT user_id, total_score, percentile, tier, computed_at FROM user_scores`
  return new Map(rows.map((row) => [row.user_id, row]))
})

/** The stored deliveries of a subscription: delivery id and parsed body. */
const deliveriesOf = (subscriptionId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ delivery_id: string; body: string }>`
      SELECT delivery_id, body FROM webhook_deliveries WHERE subscription_id = ${subscriptionId} ORDER BY id`
    return rows.map((row) => ({ deliveryId: row.delivery_id, body: JSON.parse(row.body) }))
  })

/** Moves the test clock to `iso`, which must be later than the current test time. */
const setNow = (iso: string) => TestClock.setTime(Date.parse(iso))

describe("Score recompute", () => {
  it.layer(TestServerLive({ tournamentAdvanceSchedule: rarely, recomputeScoresSchedule: rarely }), {
    timeout: "60 seconds"
  })((it) => {
    it.effect("tier changes fire once per computed_at", () =>
      Effect.gen(function*() {
        yield* resetScores
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const acmeSubscription = yield* insertSubscription(acme.companyId)
        const acmeFiltered = yield* insertSubscription(acme.companyId, { eventKinds: ["session.completed"] })
        const globexSubscription = yield* insertSubscription(globex.companyId)
        const climber = acme.userId
        const faller = yield* insertRep(acme.companyId)
        const star = globex.userId
        const novice = yield* insertRep(globex.companyId)

        const firstRun = new Date("2026-05-18T06:45:00.000Z")
        const dayBefore = new Date(firstRun.getTime() - dayMillis)
        yield* insertScorecards(acme.companyId, climber, 50, dayBefore)
        yield* insertScorecards(acme.companyId, faller, 90, dayBefore, 3)
        yield* insertScorecards(globex.companyId, star, 95, dayBefore, 10)
        yield* insertScorecards(globex.companyId, novice, 20, dayBefore)

        yield* setNow("2026-05-18T06:45:00.400Z")
        const first = yield* recompute
        expect(first).toEqual({ computedAt: firstRun, reps: 4, tierChanges: 0 })
        const initial = yield* storedScores
        expect(initial.get(climber)).toEqual({ user_id: climber, total_score: 460, percentile: 33, tier: "silver", computed_at: firstRun })
        expect(initial.get(faller)).toMatchObject({ total_score: 840, percentile: 67, tier: "platinum" })
        expect(initial.get(star)).toMatchObject({ total_score: 955, percentile: 100, tier: "diamond" })
        expect(initial.get(novice)).toMatchObject({ total_score: 190, percentile: 0, tier: "bronze" })
        expect(yield* deliveriesOf(acmeSubscription)).toEqual([])

        // Next night: the climber scores 80 four times (mean 74: 666 + 50 = 716), the faller scores 10 once (mean 70: 630 + 40 = 670).
        const secondRun = "2026-05-19T06:45:00.000Z"
        yield* insertScorecards(acme.companyId, climber, 80, new Date(Date.parse(secondRun) - 3_600_000), 4)
        yield* insertScorecards(acme.companyId, faller, 10, new Date(Date.parse(secondRun) - 3_600_000))
        yield* setNow(secondRun)
        const second = yield* recompute
        expect(second).toEqual({ computedAt: new Date(secondRun), reps: 4, tierChanges: 2 })

        const deliveries = yield* deliveriesOf(acmeSubscription)
        expect(deliveries.map((delivery) => delivery.deliveryId).sort()).toEqual(
          [`score_tier.${climber}.${secondRun}`, `score_tier.${faller}.${secondRun}`].sort()
        )
        const up = deliveries.find((delivery) => delivery.body.user_id === climber)!
        expect(() => Schema.decodeUnknownSync(catalog["score.tier_changed"].schema)(up.body)).not.toThrow()
        expect(up.body).toEqual({
          event_kind: "score.tier_changed",
          company_id: acme.companyId,
          user_id: climber,
          from_tier: "silver",
          to_tier: "platinum",
          direction: "up",
          total_score: 716,
          percentile: 67,
          computed_at: secondRun,
          delivery_id: `score_tier.${climber}.${secondRun}`
        })
        const down = deliveries.find((delivery) => delivery.body.user_id === faller)!
        expect(down.body).toEqual({
          event_kind: "score.tier_changed",
          company_id: acme.companyId,
          user_id: faller,
          from_tier: "platinum",
          to_tier: "gold",
          direction: "down",
          total_score: 670,
          percentile: 33,
          computed_at: secondRun,
          delivery_id: `score_tier.${faller}.${secondRun}`
        })
        expect(yield* deliveriesOf(acmeFiltered)).toEqual([])
        expect(yield* deliveriesOf(globexSubscription)).toEqual([])

        yield* TestClock.adjust("300 millis")
        const rerun = yield* recompute
        expect(rerun).toEqual({ computedAt: new Date(secondRun), reps: 4, tierChanges: 0 })
        expect(yield* deliveriesOf(acmeSubscription)).toHaveLength(2)
        expect((yield* storedScores).get(climber)).toMatchObject({ total_score: 716, tier: "platinum" })
      }))

    it.effect("first computation fires nothing", () =>
      Effect.gen(function*() {
        yield* resetScores
        const acme = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(acme.companyId)
        yield* setNow("2026-06-01T06:45:00.000Z")
        yield* insertScorecards(acme.companyId, acme.userId, 100, new Date("2026-05-31T12:00:00.000Z"), 10)

        const summary = yield* recompute
        expect(summary.tierChanges).toBe(0)
        expect((yield* storedScores).get(acme.userId)).toMatchObject({ total_score: 1000, percentile: 100, tier: "diamond" })
        expect(yield* deliveriesOf(subscription)).toEqual([])
      }))

    it.effect("window weighs and drops old scorecards", () =>
      Effect.gen(function*() {
        yield* resetScores
        const acme = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(acme.companyId)
        const run = Date.parse("2026-07-01T06:45:00.000Z")
        const daysBefore = (days: number) => new Date(run - days * dayMillis)
        yield* insertScorecards(acme.companyId, acme.userId, 100, daysBefore(10))
        yield* insertScorecards(acme.companyId, acme.userId, 40, daysBefore(45))
        yield* insertScorecards(acme.companyId, acme.userId, 70, daysBefore(75))
        yield* insertScorecards(acme.companyId, acme.userId, 0, daysBefore(95))

        yield* setNow("2026-07-01T06:45:00.000Z")
        yield* recompute
        expect((yield* storedScores).get(acme.userId)).toMatchObject({ total_score: 705, tier: "platinum" })

        // A hundred days later every scorecard is outside the window, so the score falls to 0.
        const later = "2026-10-09T06:45:00.000Z"
        yield* setNow(later)
        const summary = yield* recompute
        expect(summary.tierChanges).toBe(1)
        expect((yield* storedScores).get(acme.userId)).toMatchObject({ total_score: 0, percentile: 100, tier: "bronze" })
        const [delivery] = yield* deliveriesOf(subscription)
        expect(delivery!.body).toMatchObject({ from_tier: "platinum", to_tier: "bronze", direction: "down", computed_at: later })
      }))

    it.effect("failed publish keeps the old scores", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* resetScores
        const acme = yield* createTenantWithUser("Acme")
        yield* insertSubscription(acme.companyId)
        yield* setNow("2026-11-01T06:45:00.000Z")
        yield* insertScorecards(acme.companyId, acme.userId, 30, new Date("2026-10-31T06:45:00.000Z"))
        yield* recompute
        const before = yield* storedScores
        expect(before.get(acme.userId)).toMatchObject({ tier: "bronze" })

        yield* insertScorecards(acme.companyId, acme.userId, 100, new Date("2026-11-01T12:00:00.000Z"), 9)
        yield* setNow("2026-11-02T06:45:00.000Z")
        yield* sql.unsafe(`
          CREATE FUNCTION reject_tier_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'event rejected by test trigger'; END $$;
          CREATE TRIGGER reject_tier_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'score.tier_changed') EXECUTE FUNCTION reject_tier_event();`)
        const failed = yield* Effect.either(recompute)
        yield* sql.unsafe(`DROP TRIGGER reject_tier_event ON events; DROP FUNCTION reject_tier_event();`)

        expect(failed._tag).toBe("Left")
        expect(yield* storedScores).toEqual(before)

        const retried = yield* recompute
        expect(retried.tierChanges).toBe(1)
        expect((yield* storedScores).get(acme.userId)).toMatchObject({ tier: "diamond" })
      }))

    it.effect("cron route runs the recompute", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* resetScores
        const acme = yield* createTenantWithUser("Acme")
        // The job started by the route reads the same test clock as the test.
        yield* setNow("2026-12-01T06:45:00.000Z")
        yield* insertScorecards(acme.companyId, acme.userId, 80, new Date("2026-11-30T06:45:00.000Z"))

        const response = yield* sendAs(testOperatorToken, "POST", "/api/cron/recompute-scores")
        expect(response.status).toBe(202)
        expect(response.body).toEqual({ job: "recompute-scores", status: "started" })

        let rows: ReadonlyArray<{ tier: string; computed_at: Date }> = []
        for (let attempt = 0; attempt < 200 && rows.length === 0; attempt++) {
          yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
          rows = yield* sql<{ tier: string; computed_at: Date }>`
            SELECT tier, computed_at FROM user_scores WHERE user_id = ${acme.userId}`
        }
        // One scorecard of 80: 9 × 80 + 10 = 730.
        expect(rows).toEqual([{ tier: "platinum", computed_at: new Date("2026-12-01T06:45:00.000Z") }])
      }))
  })
})
