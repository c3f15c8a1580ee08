import { Effect } from "effect"
import { NotFound } from "../ApiErrors.ts"
import { decodeCursor, invalidCursor, isUuidText, toPage } from "../Pagination.ts"
import type { ListSessionsParams, PracticeSession } from "./Api.ts"
import { PracticeRepo, type SessionRow } from "./PracticeRepo.ts"

const toPracticeSession = (row: SessionRow): PracticeSession => ({
  id: row.id,
  user_id: row.user_id,
  scenario_id: row.scenario_id,
  status: row.status,
  started_at: row.started_at,
  ended_at: row.ended_at
})

/** Reads the practice sessions of a tenant and their scorecards. */
export class PracticeSessions extends Effect.Service<PracticeSessions>()("saleslab/PracticeSessions", {
  effect: Effect.gen(function*() {
    const repo = yield* PracticeRepo

    /** One page of sessions, newest first by start time. */
    const list = (companyId: string, params: ListSessionsParams) =>
      Effect.gen(function*() {
        const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, isUuidText)
        if (params.cursor !== undefined && after === undefined) {
          return yield* invalidCursor()
        }
        const rows = yield* repo.listSessions({ companyId, userId: params.user_id, after, limit: params.limit + 1 })
        return toPage(rows, params.limit, (row) => ({ createdAt: row.started_at, id: row.id }), toPracticeSession)
      }).pipe(Effect.withSpan("PracticeSessions.list", { attributes: { companyId } }))

    /** Reads the scorecard of a session. The NotFound message differs for an unknown session and one not scored yet. */
    const scorecard = (companyId: string, sessionId: string) =>
      Effect.gen(function*() {
        const session = yield* repo.findSession(companyId, sessionId)
        if (session === undefined) {
          return yield* new NotFound({ message: `Practice session ${sessionId} not found.` })
        }
        const found = yield* repo.findScorecard(companyId, sessionId)
        if (found === undefined) {
          return yield* new NotFound({
            message: `Practice session ${sessionId} has no scorecard yet. It is scored when the voice agent reports the call as ended.`
          })
        }
        return found
      }).pipe(Effect.withSpan("PracticeSessions.scorecard", { attributes: { companyId, sessionId } }))

    return { list, scorecard } as const
  }),
  dependencies: [PracticeRepo.Default]
}) {}
