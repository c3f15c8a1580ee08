import { SqlClient } from "@effect/sql"
import { Clock, DateTime, Effect, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import { decodeCursor, invalidCursor, type ListParams, toPage } from "../Pagination.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { type PerTierCount, SnapshotId, type WageIndexSnapshot } from "./Api.ts"
import { type RepScore, snapshotFigures, snapshotLabel, type WageBand } from "./SnapshotFigures.ts"

/** A row of `wage_index_snapshots`; the jsonb columns arrive parsed. */
interface SnapshotRow {
  readonly id: string
  readonly label: string
  readonly population_size: number
  readonly median_score: number
  readonly median_percentile: number
  readonly per_tier_count: PerTierCount
  readonly bands: ReadonlyArray<WageBand>
  readonly generated_at: Date
  readonly published_at: Date | null
  readonly public_url: string
}

const toSnapshot = (row: SnapshotRow): WageIndexSnapshot => ({
  id: SnapshotId.make(row.id),
  label: row.label,
  population_size: row.population_size,
  median_score: row.median_score,
  median_percentile: row.median_percentile,
  per_tier_count: row.per_tier_count,
  bands: row.bands,
  generated_at: row.generated_at,
  published_at: row.published_at,
  public_url: row.public_url
})

const isUuid = Schema.is(Schema.UUID)

const notFound = (snapshotId: string) => new NotFound({ message: `Wage index snapshot ${snapshotId} not found.` })

/**
 * The wage index: nightly snapshots of the Sales Lab Score distribution of
 * every rep of every tenant, which the operator publishes as issues. A
 * publish broadcasts `wage_index.published` to every tenant in the
 * transaction that sets `published_at`.
 */
export class WageIndexSnapshots extends Effect.Service<WageIndexSnapshots>()("saleslab/WageIndexSnapshots", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events
    const config = yield* AppConfig
    const timeZone = Option.getOrElse(config.wageIndexSchedule.tz, () => DateTime.zoneUnsafeMakeNamed("UTC"))

    /**
     * Computes a snapshot from every rep's latest score in `user_scores` and
     * stores it unpublished. Returns none when no rep has a score yet.
     * NOTE: the default schedule (06:45) is also the default of the
     * recompute-scores job, so a snapshot may be computed from the scores of
     * the night before.
     */
    const generate = Effect.gen(function*() {
      const scores = yield* sql<RepScore>`SELECT total_score, tier FROM user_scores`
      const figures = snapshotFigures(scores)
      if (figures === undefined) {
        yield* Effect.logWarning("Wage index snapshot skipped: no rep has a Sales Lab Score yet")
        return Option.none<WageIndexSnapshot>()
      }

      const generatedAt = new Date(yield* Clock.currentTimeMillis)
      const [row] = yield* sql<SnapshotRow>`
        INSERT INTO wage_index_snapshots ${
        sql.insert({
          id: randomUUID(),
          label: snapshotLabel(generatedAt, timeZone),
          population_size: figures.population_size,
          median_score: figures.median_score,
          median_percentile: figures.median_percentile,
          per_tier_count: JSON.stringify(figures.per_tier_count),
          bands: JSON.stringify(figures.bands),
          generated_at: generatedAt,
          published_at: null,
          public_url: config.wageIndexPublicUrl
        })
      }
        RETURNING *`
      yield* Effect.logInfo("Wage index snapshot generated").pipe(
        Effect.annotateLogs({ snapshotId: row!.id, populationSize: figures.population_size })
      )
      return Option.some(toSnapshot(row!))
    }).pipe(Effect.withSpan("WageIndexSnapshots.generate"))

    /** Lists snapshots, newest first. */
    const list = (params: ListParams) =>
      Effect.gen(function*() {
        const position = params.cursor === undefined ? undefined : decodeCursor(params.cursor)
        if (params.cursor !== undefined && (position === undefined || !isUuid(position.id))) {
          return yield* invalidCursor()
        }
        const after = position === undefined
          ? sql`TRUE`
          : sql`(generated_at, id) < (${position.createdAt}, ${position.id}::uuid)`
        const rows = yield* sql<SnapshotRow>`
          SELECT * FROM wage_index_snapshots WHERE ${after}
          ORDER BY generated_at DESC, id DESC
          LIMIT ${params.limit + 1}`
        return toPage(rows, params.limit, (row) => ({ createdAt: row.generated_at, id: row.id }), toSnapshot)
      }).pipe(Effect.withSpan("WageIndexSnapshots.list"))

    const broadcastPublished = (row: SnapshotRow, publishedAt: Date) =>
      events.broadcast("wage_index.published", publishedAt, {
        snapshot_id: row.id,
        label: row.label,
        population_size: row.population_size,
        median_score: row.median_score,
        median_percentile: row.median_percentile,
        per_tier_count: row.per_tier_count,
        bands: row.bands,
        generated_at: row.generated_at,
        published_at: publishedAt,
        public_url: row.public_url
      })

    const setPublishedLocked = (snapshotId: string, publish: boolean) =>
      Effect.gen(function*() {
        const [current] = yield* sql<SnapshotRow>`
          SELECT * FROM wage_index_snapshots WHERE id = ${snapshotId} FOR UPDATE`
        if (current === undefined) return yield* notFound(snapshotId)

        if (publish && current.published_at !== null) {
          yield* Effect.logInfo("Wage index snapshot already published")
          return toSnapshot(current)
        }
        if (!publish && current.published_at === null) return toSnapshot(current)

        const publishedAt = publish ? new Date(yield* Clock.currentTimeMillis) : null
        const [updated] = yield* sql<SnapshotRow>`
          UPDATE wage_index_snapshots SET published_at = ${publishedAt}
          WHERE id = ${snapshotId}
          RETURNING *`
        if (publishedAt === null) {
          yield* Effect.logInfo("Wage index snapshot unpublished")
          return toSnapshot(updated!)
        }

        const queued = yield* broadcastPublished(updated!, publishedAt)
        yield* Effect.logInfo("Wage index snapshot published").pipe(Effect.annotateLogs({ deliveries: queued }))
        return toSnapshot(updated!)
      })

    /**
     * Publishes or unpublishes a snapshot. Publishing an unpublished one sets
     * `published_at` and broadcasts `wage_index.published` in the same
     * transaction. Publishing a published one and unpublishing send nothing.
     * The row lock makes concurrent publishes of one snapshot send it once.
     */
    const setPublished = (snapshotId: SnapshotId, publish: boolean) =>
      sql.withTransaction(setPublishedLocked(snapshotId, publish)).pipe(
        Effect.annotateLogs({ snapshotId, publish }),
        Effect.withSpan("WageIndexSnapshots.setPublished", { attributes: { snapshotId, publish } })
      )

    return { generate, list, setPublished, schedule: config.wageIndexSchedule } as const
  }),
  dependencies: [Events.Default]
}) {}
