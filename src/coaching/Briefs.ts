import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { Mailer } from "../platform/Mailer.ts"
import { BriefId, type CoachingBrief } from "./BriefsApi.ts"
import { briefEmail, buildBrief } from "./BriefsContent.ts"
import { type BriefRecipient, type BriefRow, BriefsRepo } from "./BriefsRepo.ts"
import { type BriefWeek, briefsSchedule, briefsTimeZone, briefWeekAt } from "./BriefsSchedule.ts"

/** Briefs sent at the same time in one run. */
const deliveryConcurrency = 4

/** Outcome of one run of the coaching-briefs job. */
export interface BriefsRunSummary {
  readonly week_start: string
  readonly week_end: string
  /** Briefs mailed, stored and published. */
  readonly sent: number
  /** Briefs not sent because the mail or the database failed. A later run for the same week retries them. */
  readonly failed: number
}

const toCoachingBrief = (row: BriefRow): CoachingBrief => ({
  id: BriefId.make(row.id),
  user_id: row.user_id,
  week_start: row.week_start,
  week_end: row.week_end,
  summary: row.summary,
  celebrate: row.celebrate,
  coach: row.coach,
  sent_at: row.sent_at
})

/**
 * Weekly coaching briefs: the job that mails each rep the brief of the week
 * that just ended and emits `coaching.brief_delivered`, and the lookup of a
 * user's latest brief.
 */
export class CoachingBriefs extends Effect.Service<CoachingBriefs>()("saleslab/CoachingBriefs", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* BriefsRepo
    const events = yield* Events
    const mailer = yield* Mailer
    const config = yield* AppConfig

    const settingsError = (reason: unknown) =>
      `COACHING_BRIEFS_CRON or COACHING_BRIEFS_TIME_ZONE is invalid: ${String(reason)}`
    const zone = yield* Effect.orDieWith(briefsTimeZone(config.coachingBriefsTimeZone), settingsError)
    /** When the job runs by itself: `COACHING_BRIEFS_CRON` in `COACHING_BRIEFS_TIME_ZONE`. */
    const schedule = yield* Effect.orDieWith(
      briefsSchedule(config.coachingBriefsCron, config.coachingBriefsTimeZone),
      (error) => settingsError(error.message)
    )

    /**
     * Mails one user the brief of `week`, then stores it and publishes
     * `coaching.brief_delivered` in the same transaction. The transaction
     * holds an advisory lock on the brief while the mail is sent, so an
     * overlapping run waits and then finds the brief stored. A failed send
     * fails the transaction, so nothing is stored or published.
     */
    const deliverBrief = (week: BriefWeek, recipient: BriefRecipient) =>
      Effect.gen(function*() {
        yield* repo.lockBrief(recipient.user_id, week.weekStart)
        if (yield* repo.briefExists(recipient.user_id, week.weekStart)) return "skipped" as const

        const scorecards = yield* repo.weekScorecards(recipient.user_id, week)
        if (scorecards.length === 0) return "skipped" as const
        const content = buildBrief(scorecards)

        // NOTE: the mail goes out before the commit. If the process stops or the
        // commit fails after the server accepted the mail, nothing is stored, and
        // the next run for the same week mails the brief a second time.
        const messageId = yield* mailer.send({ to: recipient.email, ...briefEmail(recipient.name, week, content) })
        const sentAt = new Date(yield* Clock.currentTimeMillis)

        const row: BriefRow = {
          id: randomUUID(),
          company_id: recipient.company_id,
          user_id: recipient.user_id,
          week_start: week.weekStart,
          week_end: week.weekEnd,
          summary: content.summary,
          celebrate: content.celebrate,
          coach: content.coach,
          sent_at: sentAt,
          message_id: messageId
        }
        yield* repo.insertBrief(row)
        yield* events.publish("coaching.brief_delivered", row.company_id, sentAt, {
          user_id: row.user_id,
          brief_id: row.id,
          week_start: row.week_start,
          week_end: row.week_end,
          summary: row.summary,
          celebrate: row.celebrate,
          coach: row.coach
        })
        yield* Effect.logInfo("Coaching brief delivered").pipe(Effect.annotateLogs({ briefId: row.id, messageId }))
        return "sent" as const
      }).pipe(
        sql.withTransaction,
        Effect.annotateLogs({ userId: recipient.user_id, companyId: recipient.company_id }),
        Effect.withSpan("CoachingBriefs.deliverBrief", {
          attributes: { userId: recipient.user_id, weekStart: week.weekStart }
        })
      )

    /**
     * Delivers the brief of `week` to every user of every tenant who has a
     * scored practice call that ended in it and no brief for it yet. A user whose brief fails is
     * logged and skipped, and the other users still get theirs.
     */
    const deliverWeek = (week: BriefWeek) =>
      Effect.gen(function*() {
        const recipients = yield* repo.recipients(week)
        const outcomes = yield* Effect.forEach(
          recipients,
          (recipient) =>
            deliverBrief(week, recipient).pipe(
              Effect.catchAll((error) =>
                Effect.logWarning("Coaching brief not sent; a later run for the same week retries it", error).pipe(
                  Effect.annotateLogs({ userId: recipient.user_id, companyId: recipient.company_id }),
                  Effect.as("failed" as const)
                )
              )
            ),
          { concurrency: deliveryConcurrency }
        )

        const summary: BriefsRunSummary = {
          week_start: week.weekStart,
          week_end: week.weekEnd,
          sent: outcomes.filter((outcome) => outcome === "sent").length,
          failed: outcomes.filter((outcome) => outcome === "failed").length
        }
        yield* Effect.logInfo("Coaching briefs run finished").pipe(Effect.annotateLogs({ ...summary }))
        return summary
      }).pipe(Effect.withSpan("CoachingBriefs.deliverWeek", { attributes: { weekStart: week.weekStart } }))

    /**
     * Delivers the briefs of the Monday-to-Sunday week that ended last, in
     * `COACHING_BRIEFS_TIME_ZONE`, as of the current time. Run on Sunday, that
     * is the week ending that day.
     *
     * NOTE: the next scheduled run covers the following week. So a brief whose
     * mail failed, or a rep whose only calls were reported after Sunday's run, gets
     * that week's brief only from a run before the next Sunday, such as
     * `POST /api/cron/coaching-briefs`.
     */
    const run = Effect.flatMap(Clock.currentTimeMillis, (now) => deliverWeek(briefWeekAt(new Date(now), zone)))

    /** Returns the user's latest brief, or fails with NotFound when the user is not the tenant's or has no brief yet. */
    const latest = (companyId: string, userId: string) =>
      Effect.gen(function*() {
        const row = yield* repo.latestBrief(companyId, userId)
        if (row !== undefined) return toCoachingBrief(row)

        const known = yield* repo.userExists(companyId, userId)
        return yield* new NotFound({
          message: known ? `User ${userId} has no coaching brief yet.` : `User ${userId} not found.`
        })
      }).pipe(Effect.withSpan("CoachingBriefs.latest", { attributes: { userId } }))

    return { schedule, run, deliverWeek, latest } as const
  }),
  dependencies: [BriefsRepo.Default, Events.Default]
}) {}

/** `CoachingBriefs` with the mailer chosen by configuration. Needs `AppConfig` and `SqlClient`. */
export const CoachingBriefsLive = CoachingBriefs.Default.pipe(Layer.provide(Mailer.layer))
