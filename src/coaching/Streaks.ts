import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import { type CalendarDay, localDay, streakStatus } from "../gamification/PracticeDays.ts"
import { PracticeHistory } from "../gamification/PracticeHistory.ts"
import type { StreakCheckInResult } from "./StreaksApi.ts"

/**
 * Shortest streak, in days, whose break emits `coaching.streak_broken`. A
 * single practice day followed by a day off is not reported as a broken
 * streak.
 */
export const minimumBrokenStreakDays = 2

interface StreakRow {
  readonly longest_streak: number
  readonly last_reported_break_day: CalendarDay | null
}

/**
 * Daily streak check-ins. Each check-in recomputes the rep's streaks from
 * the completed practice sessions and stores them in `user_streaks`. The
 * first check-in that finds the rep's most recent streak ended reports it.
 * NOTE: only the most recent ended streak is reported, however long ago it
 * ended, so a rep who skips check-ins for a while never hears of the older
 * breaks in between.
 */
export class Streaks extends Effect.Service<Streaks>()("saleslab/Streaks", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const history = yield* PracticeHistory
    const events = yield* Events

    /** Reads the user's streak row, creating it first, and locks it until the transaction ends. */
    const lockStreak = (companyId: string, userId: string, now: Date) =>
      Effect.gen(function*() {
        yield* sql`
          INSERT INTO user_streaks (user_id, company_id, updated_at) VALUES (${userId}, ${companyId}, ${now})
          ON CONFLICT (user_id) DO NOTHING`
        const rows = yield* sql<StreakRow>`
          SELECT longest_streak, last_reported_break_day::text AS last_reported_break_day
          FROM user_streaks WHERE user_id = ${userId}
          FOR UPDATE`
        return rows[0]!
      })

    const checkInLocked = (companyId: string, userId: string) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const stored = yield* lockStreak(companyId, userId, now)
        const timeZone = yield* history.timeZoneOf(companyId)
        const days = yield* history.practiceDays(companyId, userId, timeZone)
        const status = streakStatus(days, localDay(now, timeZone))

        // The lock above serialises check-ins of one user, so a break is reported by exactly one of them.
        const ended = status.lastEnded
        const breakToReport = ended !== undefined && ended.length >= minimumBrokenStreakDays &&
            (stored.last_reported_break_day === null || ended.lastDay > stored.last_reported_break_day)
          ? ended
          : undefined
        const longest = Math.max(stored.longest_streak, status.longest)

        yield* sql`
          UPDATE user_streaks
          SET current_streak = ${status.current}, longest_streak = ${longest},
            last_practice_day = ${status.lastPracticeDay ?? null},
            last_reported_break_day = ${breakToReport?.lastDay ?? stored.last_reported_break_day},
            last_check_in_at = ${now}, updated_at = ${now}
          WHERE user_id = ${userId}`

        if (breakToReport !== undefined) {
          yield* events.publish("coaching.streak_broken", companyId, now, {
            user_id: userId,
            broke_at_value: breakToReport.length,
            broken_at: now
          })
          yield* Effect.logInfo("Practice streak broken").pipe(
            Effect.annotateLogs({ streakDays: breakToReport.length, lastPracticeDay: breakToReport.lastDay })
          )
        }

        const result: StreakCheckInResult = {
          user_id: userId,
          current_streak: status.current,
          longest_streak: longest,
          broke_streak: breakToReport !== undefined,
          broken_at_value: breakToReport?.length ?? null
        }
        return result
      })

    /**
     * Checks the user in for today. Fails with NotFound when the user is not
     * the tenant's. The streak row update and the `coaching.streak_broken`
     * event commit together.
     */
    const checkIn = (companyId: string, userId: string) =>
      Effect.gen(function*() {
        const users = yield* sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`
        if (users.length === 0) {
          return yield* new NotFound({ message: `User ${userId} not found.` })
        }
        return yield* sql.withTransaction(checkInLocked(companyId, userId))
      }).pipe(
        Effect.annotateLogs({ companyId, userId }),
        Effect.withSpan("Streaks.checkIn", { attributes: { companyId, userId } })
      )

    return { checkIn } as const
  }),
  dependencies: [PracticeHistory.Default]
}) {}
