import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, Conflict, NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import type { CallTurn } from "../integrations/ScenarioGenerator.ts"
import { type Autopop, type RealtimeSession, RealtimeSessionId, type RecordRealtimeSession } from "./Api.ts"
import { AutopopGenerator } from "./AutopopGenerator.ts"

/** Maximum length of a realtime call the service records: one day. */
const maxCallMillis = 24 * 60 * 60 * 1000

/** The autopop a request resulted in; `created` is false when the session had one before. */
export interface AutopopOutcome {
  readonly created: boolean
  readonly autopop: Autopop
}

interface SessionRow {
  readonly id: RealtimeSessionId
  readonly user_id: string
  readonly ended_at: Date | null
  readonly duration_seconds: number | null
  readonly transcript: ReadonlyArray<CallTurn>
}

const autopopColumns =
  "id AS assist_id, session_id, user_id, summary, next_step, key_topics, draft_followup_email, duration_seconds, created_at"

/**
 * Records finished realtime calls and generates their CRM autopops. An
 * autopop is stored and `realtime.autopop_ready` published in one
 * transaction, once per session: a repeated request returns the stored
 * autopop and publishes nothing.
 */
export class RealtimeSessions extends Effect.Service<RealtimeSessions>()("saleslab/RealtimeSessions", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events
    const generator = yield* AutopopGenerator

    const userExists = (companyId: string, userId: string) =>
      sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    const findSession = (companyId: string, id: string) =>
      sql<SessionRow>`
        SELECT id, user_id, ended_at, duration_seconds, transcript FROM realtime_sessions
        WHERE company_id = ${companyId} AND id = ${id}`.pipe(Effect.map((rows) => rows[0]))

    const findAutopop = (sessionId: string) =>
      sql<Autopop>`SELECT ${sql.unsafe(autopopColumns)} FROM realtime_autopops WHERE session_id = ${sessionId}`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Inserts the autopop; returns false when the session already has one. */
    const insertAutopop = (companyId: string, autopop: Autopop) =>
      sql`
        INSERT INTO realtime_autopops (id, session_id, company_id, user_id, summary, next_step, key_topics,
          draft_followup_email, duration_seconds, created_at)
        VALUES (${autopop.assist_id}, ${autopop.session_id}, ${companyId}, ${autopop.user_id}, ${autopop.summary},
          ${autopop.next_step}, ${autopop.key_topics}, ${autopop.draft_followup_email}, ${autopop.duration_seconds},
          ${autopop.created_at})
        ON CONFLICT (session_id) DO NOTHING
        RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    /** Stores a finished realtime call of a user of the tenant, at most `maxCallMillis` long. */
    const record = (companyId: string, input: RecordRealtimeSession) =>
      Effect.gen(function*() {
        if (input.ended_at.getTime() <= input.started_at.getTime()) {
          return yield* new BadRequest({ message: "Invalid ended_at: it must be after started_at.", field: "ended_at" })
        }
        if (input.ended_at.getTime() - input.started_at.getTime() > maxCallMillis) {
          return yield* new BadRequest({
            message: "Invalid ended_at: a realtime call lasts at most 24 hours after started_at.",
            field: "ended_at"
          })
        }
        if (!(yield* userExists(companyId, input.user_id))) {
          return yield* new NotFound({ message: `User ${input.user_id} not found.` })
        }

        const session: RealtimeSession = {
          id: RealtimeSessionId.make(randomUUID()),
          user_id: input.user_id,
          started_at: input.started_at,
          ended_at: input.ended_at,
          duration_seconds: Math.round((input.ended_at.getTime() - input.started_at.getTime()) / 1000),
          created_at: new Date(yield* Clock.currentTimeMillis)
        }
        yield* sql`
          INSERT INTO realtime_sessions (id, company_id, user_id, started_at, ended_at, duration_seconds, transcript,
            created_at)
          VALUES (${session.id}, ${companyId}, ${session.user_id}, ${session.started_at}, ${session.ended_at},
            ${session.duration_seconds}, ${JSON.stringify(input.transcript)}::jsonb, ${session.created_at})`
        return session
      }).pipe(Effect.withSpan("RealtimeSessions.record", { attributes: { companyId, userId: input.user_id } }))

    /**
     * Generates, stores and announces the autopop of a finished session.
     * The generator runs before the transaction, so a slow generator holds no
     * lock. Of two concurrent requests, the first insert wins and the other
     * returns its autopop.
     */
    const autopop = (companyId: string, sessionId: RealtimeSessionId) =>
      Effect.gen(function*() {
        const session = yield* findSession(companyId, sessionId)
        if (session === undefined) {
          return yield* new NotFound({ message: `Realtime session ${sessionId} not found.` })
        }
        if (session.ended_at === null || session.duration_seconds === null) {
          return yield* new Conflict({
            message: `Realtime session ${sessionId} is still live. Request the autopop after the call ends.`
          })
        }
        const stored = yield* findAutopop(session.id)
        if (stored !== undefined) {
          yield* Effect.logInfo("Autopop requested again for a realtime session")
          return { created: false, autopop: stored } satisfies AutopopOutcome
        }

        const draft = yield* generator.generate({
          transcript: session.transcript,
          durationSeconds: session.duration_seconds
        })
        const generated: Autopop = {
          assist_id: randomUUID(),
          session_id: session.id,
          user_id: session.user_id,
          summary: draft.summary,
          next_step: draft.nextStep,
          key_topics: draft.keyTopics,
          draft_followup_email: draft.draftFollowupEmail,
          duration_seconds: session.duration_seconds,
          created_at: new Date(yield* Clock.currentTimeMillis)
        }

        return yield* sql.withTransaction(Effect.gen(function*() {
          if (!(yield* insertAutopop(companyId, generated))) {
            const concurrent = yield* findAutopop(session.id)
            return { created: false, autopop: concurrent! } satisfies AutopopOutcome
          }
          yield* events.publish("realtime.autopop_ready", companyId, generated.created_at, {
            assist_id: generated.assist_id,
            user_id: generated.user_id,
            summary: generated.summary,
            next_step: generated.next_step,
            key_topics: generated.key_topics,
            draft_followup_email: generated.draft_followup_email,
            duration_seconds: generated.duration_seconds
          })
          yield* Effect.logInfo("Autopop generated").pipe(Effect.annotateLogs({ assistId: generated.assist_id }))
          return { created: true, autopop: generated } satisfies AutopopOutcome
        }))
      }).pipe(
        Effect.annotateLogs({ companyId, sessionId }),
        Effect.withSpan("RealtimeSessions.autopop", { attributes: { companyId, sessionId } })
      )

    return { record, autopop } as const
  })
}) {}
