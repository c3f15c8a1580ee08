import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { Position } from "../Pagination.ts"
import type { Assignment, AssignmentStatus } from "./Api.ts"

/** An assignment row with its tenant. */
export interface AssignmentRow extends Assignment {
  readonly company_id: string
}

/** An assignment closed by a scored session, with the scorecard that closed it. */
export interface CompletedAssignmentRow extends AssignmentRow {
  readonly completed_at: Date
  readonly session_id: string
  readonly scorecard_id: string
}

const columns = "id, company_id, user_id, scenario_id, status, due_at, created_at, completed_at, session_id"

/** SQL access to assignments. Every statement is scoped to one tenant's company id. */
export class AssignmentsRepo extends Effect.Service<AssignmentsRepo>()("saleslab/AssignmentsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const userExists = (companyId: string, id: string) =>
      sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${id}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    const scenarioExists = (companyId: string, id: string) =>
      sql`SELECT 1 FROM scenarios WHERE company_id = ${companyId} AND id = ${id}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    const insert = (row: AssignmentRow) =>
      sql`
        INSERT INTO assignments (id, company_id, user_id, scenario_id, status, due_at, created_at)
        VALUES (${row.id}, ${row.company_id}, ${row.user_id}, ${row.scenario_id}, ${row.status}, ${row.due_at},
          ${row.created_at})`.pipe(Effect.asVoid)

    const find = (companyId: string, id: string) =>
      sql<AssignmentRow>`
        SELECT ${sql.unsafe(columns)} FROM assignments WHERE company_id = ${companyId} AND id = ${id}`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Assignments of the tenant newest first, after `after` when given; `limit` rows at most. */
    const list = (options: {
      readonly companyId: string
      readonly userId: string | undefined
      readonly status: AssignmentStatus | undefined
      readonly after: Position | undefined
      readonly limit: number
    }) =>
      sql<AssignmentRow>`
        SELECT ${sql.unsafe(columns)} FROM assignments
        WHERE company_id = ${options.companyId}
          ${options.userId === undefined ? sql`` : sql`AND user_id = ${options.userId}`}
          ${options.status === undefined ? sql`` : sql`AND status = ${options.status}`}
          ${
        options.after === undefined ? sql`` : sql`AND (created_at, id) < (${options.after.createdAt}, ${options.after.id})`
      }
        ORDER BY created_at DESC, id DESC
        LIMIT ${options.limit}`

    /**
     * Completes the oldest open assignment of the user on the scenario and
     * returns it, or `undefined` when none is open. `SKIP LOCKED` makes a
     * concurrent transaction pass over an assignment that this one is
     * closing, so two sessions close two different assignments.
     * NOTE: when the transaction holding the oldest one then rolls back, the
     * other has already closed a newer one, so FIFO order can slip there.
     */
    const completeOldestOpen = (closing: {
      readonly companyId: string
      readonly userId: string
      readonly scenarioId: string
      readonly sessionId: string
      readonly scorecardId: string
      readonly completedAt: Date
    }) =>
      sql<CompletedAssignmentRow>`
        UPDATE assignments
        SET status = 'completed', completed_at = ${closing.completedAt}, session_id = ${closing.sessionId},
          scorecard_id = ${closing.scorecardId}
        WHERE id = (
          SELECT id FROM assignments
          WHERE company_id = ${closing.companyId} AND user_id = ${closing.userId}
            AND scenario_id = ${closing.scenarioId} AND status = 'open'
          ORDER BY created_at, seq
          LIMIT 1
          FOR UPDATE SKIP LOCKED
        ) AND status = 'open'
        RETURNING ${sql.unsafe(columns)}, scorecard_id`.pipe(Effect.map((rows) => rows[0]))

    return { userExists, scenarioExists, insert, find, list, completeOldestOpen } as const
  })
}) {}
