import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { NotFound } from "../ApiErrors.ts"
import type { Verdict } from "../events/Catalog.ts"
import { Events } from "../events/Events.ts"
import { decodeCursor, invalidCursor, type ListParams, toPage } from "../Pagination.ts"
import type { UserBadge } from "./Api.ts"
import { type BadgeFacts, badgeRule, earnedBadges } from "./BadgeRules.ts"
import { localDay, runLengthThrough } from "./PracticeDays.ts"
import { PracticeHistory } from "./PracticeHistory.ts"

/** A practice session that has just been scored, as the badge rules see it. */
export interface ScoredSession {
  readonly companyId: string
  readonly userId: string
  readonly sessionId: string
  readonly endedAt: Date
  readonly overallScore: number
  readonly verdict: Verdict
  /** When the scorecard was stored, which is also when the badges it earns are awarded. */
  readonly scoredAt: Date
}

interface UserBadgeRow {
  readonly badge_slug: string
  readonly awarded_at: Date
  readonly session_id: string | null
}

/** Returns whether `id` can be a badge slug, such as `streak_7`, the id part of a badge list cursor. */
const isBadgeSlug = (id: string): boolean => /^[a-z0-9_]{1,64}$/.test(id)

const toUserBadge = (row: UserBadgeRow): UserBadge => {
  const rule = badgeRule(row.badge_slug)
  return {
    badge_slug: row.badge_slug,
    title: rule?.title ?? row.badge_slug,
    description: rule?.description ?? "",
    awarded_at: row.awarded_at,
    session_id: row.session_id
  }
}

/**
 * Awards badges after each scorecard and lists the badges of a user. Each
 * badge is stored once per user in `user_badges`, and only the insert that
 * creates the row publishes `badge.awarded`.
 */
export class Badges extends Effect.Service<Badges>()("saleslab/Badges", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const history = yield* PracticeHistory
    const events = yield* Events

    const factsFor = (session: ScoredSession) =>
      Effect.gen(function*() {
        const timeZone = yield* history.timeZoneOf(session.companyId)
        const days = yield* history.practiceDays(session.companyId, session.userId, timeZone)
        const facts: BadgeFacts = {
          overallScore: session.overallScore,
          verdict: session.verdict,
          completedSessions: yield* history.completedSessionCount(session.companyId, session.userId),
          streakDays: runLengthThrough(days, localDay(session.endedAt, timeZone))
        }
        return facts
      })

    /**
     * Awards every badge whose rule `session` meets and that the user does not
     * have yet, and publishes one `badge.awarded` per new badge. Run it in the
     * transaction that stores the scorecard, after the session is marked
     * completed so that it counts. Returns the slugs awarded now.
     */
    const awardFor = (session: ScoredSession) =>
      Effect.gen(function*() {
        const earned = earnedBadges(yield* factsFor(session))
        if (earned.length === 0) return []

        // ON CONFLICT decides which badges are new, also against a concurrent transaction of the same user.
        const inserted = yield* sql<{ readonly badge_slug: string }>`
          INSERT INTO user_badges ${
          sql.insert(earned.map((slug) => ({
            company_id: session.companyId,
            user_id: session.userId,
            badge_slug: slug,
            awarded_at: session.scoredAt,
            session_id: session.sessionId
          })))
        }
          ON CONFLICT (user_id, badge_slug) DO NOTHING
          RETURNING badge_slug`
        const insertedSlugs = new Set(inserted.map((row) => row.badge_slug))
        const awarded = earned.filter((slug) => insertedSlugs.has(slug))

        for (const slug of awarded) {
          yield* events.publish("badge.awarded", session.companyId, session.scoredAt, {
            user_id: session.userId,
            badge_slug: slug,
            awarded_at: session.scoredAt
          })
        }
        if (awarded.length > 0) {
          yield* Effect.logInfo("Badges awarded").pipe(Effect.annotateLogs({ badges: awarded }))
        }
        return awarded
      }).pipe(
        Effect.withSpan("Badges.awardFor", {
          attributes: { companyId: session.companyId, userId: session.userId, sessionId: session.sessionId }
        })
      )

    /** One page of the user's badges, most recently awarded first. Fails with NotFound for a user of another tenant. */
    const listForUser = (companyId: string, userId: string, params: ListParams) =>
      Effect.gen(function*() {
        const users = yield* sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`
        if (users.length === 0) {
          return yield* new NotFound({ message: `User ${userId} not found.` })
        }
        const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, isBadgeSlug)
        if (params.cursor !== undefined && after === undefined) return yield* invalidCursor()

        const rows = yield* sql<UserBadgeRow>`
          SELECT badge_slug, awarded_at, session_id FROM user_badges
          WHERE company_id = ${companyId} AND user_id = ${userId}
            ${after === undefined ? sql`` : sql`AND (awarded_at, badge_slug) < (${after.createdAt}, ${after.id})`}
          ORDER BY awarded_at DESC, badge_slug DESC
          LIMIT ${params.limit + 1}`
        return toPage(rows, params.limit, (row) => ({ createdAt: row.awarded_at, id: row.badge_slug }), toUserBadge)
      }).pipe(Effect.withSpan("Badges.listForUser", { attributes: { companyId, userId } }))

    return { awardFor, listForUser } as const
  }),
  dependencies: [PracticeHistory.Default]
}) {}
