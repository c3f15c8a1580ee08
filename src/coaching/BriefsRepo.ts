import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { WeekScorecard } from "./BriefsContent.ts"
import type { BriefWeek } from "./BriefsSchedule.ts"

/** A user who practised in a week and has no brief for it yet. */
export interface BriefRecipient {
  readonly user_id: string
  readonly company_id: string
  readonly email: string
  readonly name: string
}

/** A stored brief. Dates are `YYYY-MM-DD` text, as PostgreSQL formats a `date`. */
export interface BriefRow {
  readonly id: string
  readonly company_id: string
  readonly user_id: string
  readonly week_start: string
  readonly week_end: string
  readonly summary: string
  readonly celebrate: ReadonlyArray<string>
  readonly coach: ReadonlyArray<string>
  readonly sent_at: Date
  readonly message_id: string
}

/** SQL access to coaching briefs and to the scorecards they are built from. */
export class BriefsRepo extends Effect.Service<BriefsRepo>()("saleslab/BriefsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Users of every tenant with at least one scored practice call in the week
     * and no brief for it. A call belongs to the week in which it ended, as
     * the post-call webhook reports it, which may be before its scorecard
     * was stored.
     */
    const recipients = (week: BriefWeek) =>
      sql<BriefRecipient>`
        SELECT u.id AS user_id, u.company_id, u.email, u.name
        FROM users u
        WHERE EXISTS (
            SELECT 1 FROM scorecards s JOIN practice_sessions p ON p.id = s.session_id
            WHERE s.user_id = u.id AND p.ended_at >= ${week.from} AND p.ended_at < ${week.until})
          AND NOT EXISTS (
            SELECT 1 FROM coaching_briefs b WHERE b.user_id = u.id AND b.week_start = ${week.weekStart}::date)
        ORDER BY u.company_id, u.id`

    /**
     * Takes a transaction-scoped advisory lock on the user's brief of the
     * week, so that two overlapping runs handle each brief one after the other.
     */
    const lockBrief = (userId: string, weekStart: string) =>
      sql`SELECT pg_advisory_xact_lock(hashtextextended(${`coaching_brief:${userId}:${weekStart}`}, 0))`.pipe(
        Effect.asVoid
      )

    const briefExists = (userId: string, weekStart: string) =>
      sql`SELECT 1 FROM coaching_briefs WHERE user_id = ${userId} AND week_start = ${weekStart}::date`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    /** The scorecards of the user's practice calls that ended in the week, oldest first, with their scenario titles. */
    const weekScorecards = (userId: string, week: BriefWeek) =>
      sql<WeekScorecard>`
        SELECT s.overall_score, s.verdict, s.category_scores, s.best_line, s.worst_line, s.next_drill,
          s.created_at, sc.title AS scenario_title
        FROM scorecards s
          JOIN scenarios sc ON sc.id = s.scenario_id
          JOIN practice_sessions p ON p.id = s.session_id
        WHERE s.user_id = ${userId} AND p.ended_at >= ${week.from} AND p.ended_at < ${week.until}
        ORDER BY p.ended_at, s.id`

    const insertBrief = (row: BriefRow) =>
      sql`
        INSERT INTO coaching_briefs
          (id, company_id, user_id, week_start, week_end, summary, celebrate, coach, sent_at, message_id)
        VALUES (${row.id}, ${row.company_id}, ${row.user_id}, ${row.week_start}::date, ${row.week_end}::date,
          ${row.summary}, ${row.celebrate}, ${row.coach}, ${row.sent_at}, ${row.message_id})`.pipe(Effect.asVoid)

    /** The user's brief of the latest week, when the user belongs to the tenant. */
    const latestBrief = (companyId: string, userId: string) =>
      sql<BriefRow>`
        SELECT id, company_id, user_id, week_start::text AS week_start, week_end::text AS week_end,
          summary, celebrate, coach, sent_at, message_id
        FROM coaching_briefs
        WHERE company_id = ${companyId} AND user_id = ${userId}
        ORDER BY week_start DESC
        LIMIT 1`.pipe(Effect.map((rows) => rows[0]))

    const userExists = (companyId: string, userId: string) =>
      sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    return { recipients, lockBrief, briefExists, weekScorecards, insertBrief, latestBrief, userExists } as const
  })
}) {}
