import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { type CalendarDay, isKnownTimeZone } from "./PracticeDays.ts"

/**
 * Reads a rep's practice history from completed practice sessions: how many
 * there are and on which calendar days, in the company's time zone. Badges
 * and streak check-ins both build on it.
 */
export class PracticeHistory extends Effect.Service<PracticeHistory>()("saleslab/PracticeHistory", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Returns the time zone of the company, `UTC` when it has none. A name that
     * `Intl` rejects also falls back to `UTC`, with a warning, so that a
     * misspelt zone does not fail every post-call webhook of the tenant.
     */
    const timeZoneOf = (companyId: string) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ readonly time_zone: string }>`SELECT time_zone FROM companies WHERE id = ${companyId}`
        const stored = rows[0]?.time_zone ?? "UTC"
        if (isKnownTimeZone(stored)) return stored
        yield* Effect.logWarning("Company time zone is unknown, using UTC").pipe(
          Effect.annotateLogs({ companyId, timeZone: stored })
        )
        return "UTC"
      })

    /** Distinct days, oldest first, on which the user completed a practice session, in `timeZone`. */
    const practiceDays = (companyId: string, userId: string, timeZone: string) =>
      sql<{ readonly day: CalendarDay }>`
        SELECT DISTINCT to_char(ended_at AT TIME ZONE ${timeZone}, 'YYYY-MM-DD') AS day
        FROM practice_sessions
        WHERE company_id = ${companyId} AND user_id = ${userId} AND status = 'completed' AND ended_at IS NOT NULL
        ORDER BY day`.pipe(Effect.map((rows) => rows.map((row) => row.day)))

    /** Number of practice sessions the user has completed. */
    const completedSessionCount = (companyId: string, userId: string) =>
      sql<{ readonly count: number }>`
        SELECT count(*)::int AS count FROM practice_sessions
        WHERE company_id = ${companyId} AND user_id = ${userId} AND status = 'completed'`.pipe(
        Effect.map((rows) => rows[0]?.count ?? 0)
      )

    return { timeZoneOf, practiceDays, completedSessionCount } as const
  })
}) {}
