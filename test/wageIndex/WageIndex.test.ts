import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Option, Schema, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { catalog } from "../../src/events/Catalog.ts"
import { WageIndexSnapshots } from "../../src/wageIndex/WageIndexSnapshots.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { testOperatorToken, TestServerLive } from "../support/TestServer.ts"

const kind = "wage_index.published"

/**
 * Moves the test clock forward to `iso`. The clock is shared by every test of
 * this file and only runs forward, so the tests use increasing times.
 */
const moveClockTo = (iso: string) =>
  Effect.gen(function*() {
    const target = Date.parse(iso)
    const now = yield* Clock.currentTimeMillis
    if (now > target) return yield* Effect.dieMessage(`The test clock is already past ${iso}.`)
    yield* TestClock.setTime(target)
  })

/** Runs the nightly job's effect once and returns the stored snapshot, if any. */
const runSnapshotJob = Effect.flatMap(WageIndexSnapshots, (snapshots) => snapshots.generate).pipe(
  Effect.provide(WageIndexSnapshots.Default)
)

/** Replaces every stored score with one rep per entry, spread over three tenants. */
const storeScores = (scores: ReadonlyArray<readonly [number, string]>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DELETE FROM user_scores`
    const tenants = [yield* createTenantWithUser("Acme"), yield* createTenantWithUser("Globex"), yield* createTenantWithUser("Initech")]
    for (const [index, [totalScore, tier]] of scores.entries()) {
      const tenant = tenants[index % tenants.length]!
      const userId = randomUUID()
      yield* sql`
        INSERT INTO users (id, company_id, email, name, role)
        VALUES (${userId}, ${tenant.companyId}, ${`rep-${userId}@example.com`}, ${"Riley Rep"}, 'rep')`
      yield* sql`
        INSERT INTO user_scores (user_id, company_id, total_score, percentile, tier, computed_at)
        VALUES (${userId}, ${tenant.companyId}, ${totalScore}, 50, ${tier}, ${new Date("2026-05-18T06:45:00.000Z")})`
    }
  })

const sampleScores: ReadonlyArray<readonly [number, string]> = [
  [900, "diamond"],
  [350, "bronze"],
  [612, "gold"],
  [420, "silver"],
  [710, "platinum"],
  [560, "gold"],
  [640, "gold"]
]

const expectedFigures = {
  label: "Q2 2026 · May",
  population_size: 7,
  median_score: 612,
  median_percentile: 50,
  per_tier_count: { bronze: 1, silver: 1, gold: 3, platinum: 1, diamond: 1 },
  bands: [
    { tier: "bronze", score_min: 0, score_max: 399, population: 1, p25_ote_usd: 62_000, median_ote_usd: 74_000, p75_ote_usd: 86_000 },
    { tier: "silver", score_min: 400, score_max: 549, population: 1, p25_ote_usd: 84_000, median_ote_usd: 98_000, p75_ote_usd: 112_000 },
    { tier: "gold", score_min: 550, score_max: 699, population: 3, p25_ote_usd: 118_000, median_ote_usd: 134_000, p75_ote_usd: 152_000 },
    { tier: "platinum", score_min: 700, score_max: 849, population: 1, p25_ote_usd: 148_000, median_ote_usd: 168_000, p75_ote_usd: 192_000 },
    { tier: "diamond", score_min: 850, score_max: 1000, population: 1, p25_ote_usd: 185_000, median_ote_usd: 215_000, p75_ote_usd: 250_000 }
  ],
  public_url: "https://saleslab.cloud/wage-index"
}

/** Stores the sample scores and generates a snapshot of them at `generatedAt`; returns its id. */
const sampleSnapshot = (generatedAt: string) =>
  Effect.gen(function*() {
    yield* storeScores(sampleScores)
    yield* moveClockTo(generatedAt)
    const snapshot = yield* runSnapshotJob
    return Option.getOrThrow(snapshot).id
  })

const operator = (method: "GET" | "POST" | "PATCH", path: string, body?: unknown) => sendAs(testOperatorToken, method, path, body)

const publish = (snapshotId: string, value: unknown) =>
  operator("PATCH", `/api/admin/wage-index/${snapshotId}`, { publish: value })

const deliveriesOf = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; body: string; company_id: string }>`
      SELECT delivery_id, event_kind, body, company_id FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`)

const countRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ events: number; deliveries: number }>`
    SELECT
      (SELECT count(*)::int FROM events WHERE kind = ${kind}) AS events,
      (SELECT count(*)::int FROM webhook_deliveries WHERE event_kind = ${kind}) AS deliveries`
  return row!
})

describe("Wage index", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("job stores the snapshot figures", () =>
      Effect.gen(function*() {
        yield* storeScores(sampleScores)
        yield* moveClockTo("2026-05-18T06:45:00.000Z")

        const snapshot = Option.getOrThrow(yield* runSnapshotJob)

        expect(snapshot).toStrictEqual({
          id: snapshot.id,
          ...expectedFigures,
          generated_at: new Date("2026-05-18T06:45:00.000Z"),
          published_at: null
        })
        const listed = yield* operator("GET", "/api/admin/wage-index")
        expect(listed.status).toBe(200)
        expect(listed.body.data[0]).toStrictEqual({
          id: snapshot.id,
          ...expectedFigures,
          generated_at: "2026-05-18T06:45:00.000Z",
          published_at: null
        })
      }))

    it.effect("cron route runs the job", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* storeScores(sampleScores)
        yield* moveClockTo("2026-05-19T06:45:00.000Z")

        const started = yield* operator("POST", "/api/cron/wage-index-snapshot")
        expect(started.status).toBe(202)

        // The route starts the job in the background, so wait for its row on the real clock.
        let rows: ReadonlyArray<{ label: string; population_size: number }> = []
        for (let attempt = 0; attempt < 100 && rows.length === 0; attempt++) {
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
          rows = yield* sql<{ label: string; population_size: number }>`
            SELECT label, population_size FROM wage_index_snapshots
            WHERE generated_at = ${new Date("2026-05-19T06:45:00.000Z")}`
        }
        expect(rows).toStrictEqual([{ label: "Q2 2026 · May", population_size: 7 }])
      }))

    it.effect("job without scores stores nothing", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`DELETE FROM user_scores`
        const before = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM wage_index_snapshots`

        expect(yield* runSnapshotJob).toStrictEqual(Option.none())

        const after = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM wage_index_snapshots`
        expect(after).toEqual(before)
      }))

    it.effect("publish broadcasts to every tenant", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-20T06:45:00.000Z")
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const initech = yield* createTenantWithUser("Initech")
        const acmeEverything = yield* insertSubscription(acme.companyId)
        const globexWageIndex = yield* insertSubscription(globex.companyId, { eventKinds: [kind, "badge.awarded"] })
        const globexPaused = yield* insertSubscription(globex.companyId, { status: "paused" })
        const initechBadges = yield* insertSubscription(initech.companyId, { eventKinds: ["badge.awarded"] })
        yield* moveClockTo("2026-05-20T13:42:08.123Z")

        const published = yield* publish(snapshotId, true)

        expect(published.status).toBe(200)
        expect(published.body).toStrictEqual({
          id: snapshotId,
          ...expectedFigures,
          generated_at: "2026-05-20T06:45:00.000Z",
          published_at: "2026-05-20T13:42:08.123Z"
        })
        const expectedBody = (companyId: string, subscriptionId: string) => ({
          event_kind: kind,
          company_id: companyId,
          snapshot_id: snapshotId,
          ...expectedFigures,
          generated_at: "2026-05-20T06:45:00.000Z",
          published_at: "2026-05-20T13:42:08.123Z",
          delivery_id: `wage_index.published:${snapshotId}:2026-05-20T13:42:08.123Z:${subscriptionId}`
        })
        for (const [companyId, subscriptionId] of [[acme.companyId, acmeEverything], [globex.companyId, globexWageIndex]]) {
          const deliveries = yield* deliveriesOf(subscriptionId!)
          expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
            `wage_index.published:${snapshotId}:2026-05-20T13:42:08.123Z:${subscriptionId}`
          ])
          expect(deliveries[0]!.event_kind).toBe(kind)
          expect(deliveries[0]!.company_id).toBe(companyId)
          const body = JSON.parse(deliveries[0]!.body)
          expect(body).toStrictEqual(expectedBody(companyId!, subscriptionId!))
          expect(() => Schema.decodeUnknownSync(catalog[kind].schema)(body)).not.toThrow()
        }
        expect(yield* deliveriesOf(globexPaused)).toHaveLength(0)
        expect(yield* deliveriesOf(initechBadges)).toHaveLength(0)
      }))

    it.effect("repeat publish and unpublish send nothing", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-21T06:45:00.000Z")
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: [kind] })
        yield* moveClockTo("2026-05-21T09:00:00.000Z")
        const first = yield* publish(snapshotId, true)
        expect(first.body.published_at).toBe("2026-05-21T09:00:00.000Z")
        const afterFirst = yield* countRows

        yield* moveClockTo("2026-05-21T09:05:00.000Z")
        const repeated = yield* publish(snapshotId, true)
        expect(repeated.status).toBe(200)
        expect(repeated.body).toStrictEqual(first.body)
        expect(yield* countRows).toEqual(afterFirst)

        const unpublished = yield* publish(snapshotId, false)
        expect(unpublished.status).toBe(200)
        expect(unpublished.body.published_at).toBeNull()
        expect(yield* countRows).toEqual(afterFirst)
        const unpublishedAgain = yield* publish(snapshotId, false)
        expect(unpublishedAgain.body).toStrictEqual(unpublished.body)
        expect(yield* countRows).toEqual(afterFirst)

        yield* moveClockTo("2026-05-21T10:00:00.000Z")
        const republished = yield* publish(snapshotId, true)
        expect(republished.body.published_at).toBe("2026-05-21T10:00:00.000Z")
        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
          `wage_index.published:${snapshotId}:2026-05-21T09:00:00.000Z:${subscription}`,
          `wage_index.published:${snapshotId}:2026-05-21T10:00:00.000Z:${subscription}`
        ])
        expect(JSON.parse(deliveries[1]!.body).published_at).toBe("2026-05-21T10:00:00.000Z")
      }))

    it.effect("concurrent publishes send once", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-22T06:45:00.000Z")
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* moveClockTo("2026-05-22T09:00:00.000Z")

        const responses = yield* Effect.all([publish(snapshotId, true), publish(snapshotId, true), publish(snapshotId, true)], {
          concurrency: "unbounded"
        })

        expect(responses.map((response) => response.status)).toEqual([200, 200, 200])
        expect(responses.map((response) => response.body.published_at)).toEqual(Array(3).fill("2026-05-22T09:00:00.000Z"))
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
      }))

    it.effect("failure rolls the publish back", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-23T06:45:00.000Z")
        const tenant = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(tenant.companyId)
        yield* moveClockTo("2026-05-23T09:00:00.000Z")
        const sql = yield* SqlClient.SqlClient
        // The trigger fails the event insert, after published_at is set.
        yield* sql.unsafe(`
          CREATE FUNCTION fail_wage_index_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'wage index event rejected for the test'; END $$`)
        yield* sql.unsafe(`
          CREATE TRIGGER fail_wage_index_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'wage_index.published') EXECUTE FUNCTION fail_wage_index_event()`)

        const failed = yield* publish(snapshotId, true).pipe(
          Effect.ensuring(Effect.orDie(sql.unsafe("DROP TRIGGER fail_wage_index_event ON events")))
        )

        expect(failed.status).toBe(500)
        expect(failed.body._tag).toBe("InternalError")
        expect(JSON.stringify(failed.body)).not.toContain("rejected for the test")
        const [row] = yield* sql<{ published_at: Date | null }>`
          SELECT published_at FROM wage_index_snapshots WHERE id = ${snapshotId}`
        expect(row!.published_at).toBeNull()
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        const retried = yield* publish(snapshotId, true)
        expect(retried.status).toBe(200)
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
      }))

    it.effect("bad requests name the problem", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-24T06:45:00.000Z")
        const before = yield* countRows

        const unknown = yield* publish(randomUUID(), true)
        expect(unknown.status).toBe(404)
        expect(unknown.body._tag).toBe("NotFound")

        for (const body of [{}, { publish: "yes" }, { publish: null }, { publish: 1 }]) {
          const response = yield* operator("PATCH", `/api/admin/wage-index/${snapshotId}`, body)
          expect(response.status, JSON.stringify(body)).toBe(400)
          expect(response.body.message, JSON.stringify(body)).toContain("publish")
        }

        const malformed = yield* publish("not-a-uuid", true)
        expect(malformed.status).toBe(400)
        expect(malformed.body.message).toContain("snapshot_id")

        const badCursor = yield* operator("GET", "/api/admin/wage-index?cursor=bogus")
        expect(badCursor.status).toBe(400)
        expect(badCursor.body.field).toBe("cursor")

        expect(yield* countRows).toEqual(before)
        const [row] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ published_at: Date | null }>`SELECT published_at FROM wage_index_snapshots WHERE id = ${snapshotId}`)
        expect(row!.published_at).toBeNull()
      }))

    it.effect("routes need the operator token", () =>
      Effect.gen(function*() {
        const snapshotId = yield* sampleSnapshot("2026-05-25T06:45:00.000Z")
        const tenant = yield* createTenantWithUser("Acme")
        for (const token of [tenant.token, "wrong-operator-token"]) {
          const listed = yield* sendAs(token, "GET", "/api/admin/wage-index")
          expect(listed.status).toBe(401)
          const patched = yield* sendAs(token, "PATCH", `/api/admin/wage-index/${snapshotId}`, { publish: true })
          expect(patched.status).toBe(401)
        }
        const [row] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ published_at: Date | null }>`SELECT published_at FROM wage_index_snapshots WHERE id = ${snapshotId}`)
        expect(row!.published_at).toBeNull()
      }))

    it.effect("list pages newest first", () =>
      Effect.gen(function*() {
        const first = yield* sampleSnapshot("2026-05-26T06:45:00.000Z")
        yield* moveClockTo("2026-05-27T06:45:00.000Z")
        const second = Option.getOrThrow(yield* runSnapshotJob).id

        const page = yield* operator("GET", "/api/admin/wage-index?limit=1")
        expect(page.status).toBe(200)
        expect(page.body.data.map((snapshot: { id: string }) => snapshot.id)).toEqual([second])
        expect(page.body.next_cursor).toEqual(expect.any(String))

        const next = yield* operator("GET", `/api/admin/wage-index?limit=1&cursor=${page.body.next_cursor}`)
        expect(next.body.data.map((snapshot: { id: string }) => snapshot.id)).toEqual([first])
      }))
  })
})
