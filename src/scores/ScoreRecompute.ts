import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import type { Tier } from "../events/Catalog.ts"
import { Events } from "../events/Events.ts"
import {
  ageBandDays,
  type AgeBandTotals,
  ageBandWeights,
  percentiles,
  salesLabScore,
  scoreWindowDays,
  tierDirection,
  tierOf
} from "./SalesLabScore.ts"

/** A row of `user_scores`. */
export interface UserScoreRow {
  readonly user_id: string
  readonly company_id: string
  readonly total_score: number
  readonly percentile: number
  readonly tier: Tier
  readonly computed_at: Date
}

/** Summary of one recompute run. */
export interface RecomputeSummary {
  readonly computedAt: Date
  /** Reps whose score was written. */
  readonly reps: number
  /** `score.tier_changed` events published; a re-run with the same `computedAt` publishes none. */
  readonly tierChanges: number
}

/** Key of the transaction-scoped advisory lock that lets one recompute run at a time. */
const recomputeLockKey = 7_421_006

const dayMillis = 24 * 60 * 60 * 1000

/** Rows written by one upsert: 6,000 parameters, well below PostgreSQL's limit of 65,535. */
const upsertChunkSize = 1_000

/** The current time truncated to the second, shared by every row of a run. */
const runTime = Effect.map(Clock.currentTimeMillis, (now) => new Date(Math.floor(now / 1000) * 1000))

/**
 * The nightly recompute of every rep's Sales Lab Score. The reps are the
 * users with a scorecard in the last 90 days plus those with a stored score,
 * so a rep who stopped practising falls to 0. Percentiles rank every rep of
 * every company together.
 */
export class ScoreRecompute extends Effect.Service<ScoreRecompute>()("saleslab/ScoreRecompute", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events

    const loadBands = (computedAt: Date) => {
      const windowStart = new Date(computedAt.getTime() - scoreWindowDays * dayMillis)
      const bandSeconds = ageBandDays * 24 * 60 * 60
      const lastBand = ageBandWeights.length - 1
      return sql<{ user_id: string; company_id: string } & AgeBandTotals>`
        SELECT user_id, company_id,
          LEAST(${lastBand}, floor(extract(epoch FROM (${computedAt}::timestamptz - created_at)) / ${bandSeconds}))::int
            AS band,
          count(*)::int AS scorecards,
          sum(overall_score)::int AS "overallScoreSum"
        FROM scorecards
        WHERE created_at > ${windowStart} AND created_at <= ${computedAt}
        GROUP BY 1, 2, 3`
    }

    const upsert = (rows: ReadonlyArray<UserScoreRow>) =>
      Effect.forEach(
        chunks(rows, upsertChunkSize),
        (chunk) =>
          sql`
            INSERT INTO user_scores ${sql.insert(chunk.map((row) => ({ ...row })))}
            ON CONFLICT (user_id) DO UPDATE SET
              company_id = excluded.company_id,
              total_score = excluded.total_score,
              percentile = excluded.percentile,
              tier = excluded.tier,
              computed_at = excluded.computed_at`,
        { discard: true }
      )

    /** Computes and stores every score as of `computedAt` and publishes the tier changes, in the caller's transaction. */
    const recomputeAt = (computedAt: Date) =>
      Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(${recomputeLockKey})`

        const bandRows = yield* loadBands(computedAt)
        const prior = yield* sql<{ user_id: string; company_id: string; tier: Tier }>`
          SELECT user_id, company_id, tier FROM user_scores`

        const reps = new Map<string, { companyId: string; bands: Array<AgeBandTotals> }>()
        for (const row of prior) reps.set(row.user_id, { companyId: row.company_id, bands: [] })
        for (const row of bandRows) {
          const rep = reps.get(row.user_id) ?? { companyId: row.company_id, bands: [] }
          rep.bands.push(row)
          reps.set(row.user_id, rep)
        }

        const userIds = [...reps.keys()]
        const totals = userIds.map((userId) => salesLabScore(reps.get(userId)!.bands))
        const ranks = percentiles(totals)
        const fresh: Array<UserScoreRow> = userIds.map((userId, index) => ({
          user_id: userId,
          company_id: reps.get(userId)!.companyId,
          total_score: totals[index]!,
          percentile: ranks[index]!,
          tier: tierOf(totals[index]!),
          computed_at: computedAt
        }))
        yield* upsert(fresh)

        const priorTiers = new Map(prior.map((row) => [row.user_id, row.tier]))
        let tierChanges = 0
        for (const score of fresh) {
          const fromTier = priorTiers.get(score.user_id)
          if (fromTier === undefined) continue
          const direction = tierDirection(fromTier, score.tier)
          if (direction === undefined) continue
          // NOTE: a re-run at the same computedAt compares against the tiers the first run stored, so a tier
          // that moves again between the two runs is stored without an event of its own.
          tierChanges += yield* events.publish("score.tier_changed", score.company_id, computedAt, {
            user_id: score.user_id,
            from_tier: fromTier,
            to_tier: score.tier,
            direction,
            total_score: score.total_score,
            percentile: score.percentile,
            computed_at: computedAt
          }).pipe(Effect.map((queued) => (queued > 0 ? 1 : 0)))
        }

        const summary: RecomputeSummary = { computedAt, reps: fresh.length, tierChanges }
        return summary
      })

    /**
     * Recomputes every score as of the current time truncated to the second.
     * The upsert and the `score.tier_changed` events commit in one
     * transaction, so a failure leaves the stored scores and the outbox as
     * they were.
     */
    const run = Effect.gen(function*() {
      const computedAt = yield* runTime
      const summary = yield* sql.withTransaction(recomputeAt(computedAt))
      yield* Effect.logInfo("Sales Lab Scores recomputed").pipe(
        Effect.annotateLogs({
          computedAt: computedAt.toISOString(),
          reps: summary.reps,
          tierChanges: summary.tierChanges
        })
      )
      return summary
    }).pipe(Effect.withSpan("ScoreRecompute.run"))

    return { run } as const
  }),
  dependencies: [Events.Default]
}) {}

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const result: Array<ReadonlyArray<A>> = []
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size))
  return result
}
