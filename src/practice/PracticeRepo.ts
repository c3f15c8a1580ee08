import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { Position } from "../Pagination.ts"
import type { PracticeSession, Scenario, ScenarioId, Scorecard, ScorecardId, SessionId } from "./Api.ts"

/** A practice session row with its tenant. */
export interface SessionRow extends PracticeSession {
  readonly company_id: string
  readonly conversation_id: string | null
}

/** A scorecard row as inserted. */
export interface ScorecardRow extends Scorecard {
  readonly company_id: string
}

/** A scenario row with its tenant. */
export interface ScenarioRow extends Scenario {
  readonly company_id: string
}

const sessionColumns = "id, company_id, user_id, scenario_id, status, conversation_id, started_at, ended_at"
const scorecardColumns =
  "id, session_id, user_id, scenario_id, overall_score, verdict, headline, category_scores, best_line, worst_line, next_drill, created_at"

/**
 * SQL access to scenarios, practice sessions and scorecards. Every read takes
 * the tenant's company id except `lockSession`, which serves the incoming
 * webhook that finds the tenant through the session.
 */
export class PracticeRepo extends Effect.Service<PracticeRepo>()("saleslab/PracticeRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertScenario = (row: ScenarioRow) =>
      sql`
        INSERT INTO scenarios (id, company_id, title, prompt, pass_mark, created_at)
        VALUES (${row.id}, ${row.company_id}, ${row.title}, ${row.prompt}, ${row.pass_mark}, ${row.created_at})`.pipe(
        Effect.asVoid
      )

    const findScenario = (companyId: string, id: string) =>
      sql<ScenarioRow>`
        SELECT id, company_id, title, prompt, pass_mark, created_at
        FROM scenarios WHERE company_id = ${companyId} AND id = ${id}`.pipe(Effect.map((rows) => rows[0]))

    /** Whether the user exists in the tenant. */
    const userExists = (companyId: string, id: string) =>
      sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${id}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    const insertSession = (row: {
      readonly id: SessionId
      readonly companyId: string
      readonly userId: string
      readonly scenarioId: ScenarioId
      readonly startedAt: Date
    }) =>
      sql`
        INSERT INTO practice_sessions (id, company_id, user_id, scenario_id, status, started_at)
        VALUES (${row.id}, ${row.companyId}, ${row.userId}, ${row.scenarioId}, 'started', ${row.startedAt})`.pipe(
        Effect.asVoid
      )

    /** Sessions of the tenant newest first, after `after` when given; `limit` rows at most. */
    const listSessions = (options: {
      readonly companyId: string
      readonly userId: string | undefined
      readonly after: Position | undefined
      readonly limit: number
    }) => {
      const byUser = options.userId === undefined ? sql`TRUE` : sql`user_id = ${options.userId}`
      const after = options.after === undefined
        ? sql`TRUE`
        : sql`(started_at, id) < (${options.after.createdAt}, ${options.after.id})`
      return sql<SessionRow>`
        SELECT ${sql.unsafe(sessionColumns)} FROM practice_sessions
        WHERE company_id = ${options.companyId} AND ${byUser} AND ${after}
        ORDER BY started_at DESC, id DESC
        LIMIT ${options.limit}`
    }

    const findSession = (companyId: string, id: string) =>
      sql<SessionRow>`
        SELECT ${sql.unsafe(sessionColumns)} FROM practice_sessions
        WHERE company_id = ${companyId} AND id = ${id}`.pipe(Effect.map((rows) => rows[0]))

    /** Reads a session and locks its row until the surrounding transaction ends. */
    const lockSession = (id: string) =>
      sql<SessionRow & { readonly pass_mark: number }>`
        SELECT s.id, s.company_id, s.user_id, s.scenario_id, s.status, s.conversation_id, s.started_at, s.ended_at,
          c.pass_mark
        FROM practice_sessions s JOIN scenarios c ON c.id = s.scenario_id
        WHERE s.id = ${id}
        FOR UPDATE OF s`.pipe(Effect.map((rows) => rows[0]))

    const completeSession = (id: string, endedAt: Date, conversationId: string) =>
      sql`
        UPDATE practice_sessions SET status = 'completed', ended_at = ${endedAt}, conversation_id = ${conversationId}
        WHERE id = ${id}`.pipe(Effect.asVoid)

    const insertScorecard = (row: ScorecardRow) =>
      sql`
        INSERT INTO scorecards (id, session_id, company_id, user_id, scenario_id, overall_score, verdict, headline,
          category_scores, best_line, worst_line, next_drill, created_at)
        VALUES (${row.id}, ${row.session_id}, ${row.company_id}, ${row.user_id}, ${row.scenario_id},
          ${row.overall_score}, ${row.verdict}, ${row.headline}, ${JSON.stringify(row.category_scores)}::jsonb,
          ${row.best_line}, ${row.worst_line}, ${row.next_drill}, ${row.created_at})`.pipe(Effect.asVoid)

    const findScorecard = (companyId: string, sessionId: string) =>
      sql<Scorecard>`
        SELECT ${sql.unsafe(scorecardColumns)} FROM scorecards
        WHERE company_id = ${companyId} AND session_id = ${sessionId}`.pipe(Effect.map((rows) => rows[0]))

    const findScorecardId = (sessionId: string) =>
      sql<{ readonly id: ScorecardId }>`SELECT id FROM scorecards WHERE session_id = ${sessionId}`.pipe(
        Effect.map((rows) => rows[0]?.id)
      )

    return {
      insertScenario,
      findScenario,
      userExists,
      insertSession,
      listSessions,
      findSession,
      lockSession,
      completeSession,
      insertScorecard,
      findScorecard,
      findScorecardId
    } as const
  })
}) {}
