import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import { decodeCursor, invalidCursor, isUuidText, toPage } from "../Pagination.ts"
import { type Assignment, AssignmentId, type CreateAssignment, type ListAssignmentsParams } from "./Api.ts"
import { type AssignmentRow, AssignmentsRepo } from "./AssignmentsRepo.ts"

const toAssignment = (row: AssignmentRow): Assignment => ({
  id: row.id,
  user_id: row.user_id,
  scenario_id: row.scenario_id,
  status: row.status,
  due_at: row.due_at,
  created_at: row.created_at,
  completed_at: row.completed_at,
  session_id: row.session_id
})

/** A scorecard just stored for a practice session, as assignments see it. */
export interface ScoredSessionOnScenario {
  readonly companyId: string
  readonly userId: string
  readonly scenarioId: string
  readonly sessionId: string
  readonly scorecardId: string
  readonly overallScore: number
  /** When the scorecard was stored, which is also when the assignment completes. */
  readonly scoredAt: Date
}

/**
 * Drills assigned to users. Managers create them; a scored practice session
 * of the user on the same scenario completes the oldest open one.
 */
export class Assignments extends Effect.Service<Assignments>()("saleslab/Assignments", {
  effect: Effect.gen(function*() {
    const repo = yield* AssignmentsRepo
    const events = yield* Events

    /** Creates an open assignment. Fails with NotFound when the user or the scenario is not the tenant's. */
    const create = (companyId: string, input: CreateAssignment) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const dueAt = input.due_at ?? null
        if (dueAt !== null && dueAt.getTime() <= now.getTime()) {
          return yield* new BadRequest({
            field: "due_at",
            message: `due_at ${dueAt.toISOString()} is not in the future. Pass a later time, or omit it for no due date.`
          })
        }
        if (!(yield* repo.userExists(companyId, input.user_id))) {
          return yield* new NotFound({ message: `User ${input.user_id} not found.` })
        }
        if (!(yield* repo.scenarioExists(companyId, input.scenario_id))) {
          return yield* new NotFound({ message: `Scenario ${input.scenario_id} not found.` })
        }

        const row: AssignmentRow = {
          id: AssignmentId.make(randomUUID()),
          company_id: companyId,
          user_id: input.user_id,
          scenario_id: input.scenario_id,
          status: "open",
          due_at: dueAt,
          created_at: now,
          completed_at: null,
          session_id: null
        }
        yield* repo.insert(row)
        return toAssignment(row)
      }).pipe(Effect.withSpan("Assignments.create", { attributes: { companyId, userId: input.user_id } }))

    /** One page of the tenant's assignments, newest first. */
    const list = (companyId: string, params: ListAssignmentsParams) =>
      Effect.gen(function*() {
        const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, isUuidText)
        if (params.cursor !== undefined && after === undefined) {
          return yield* invalidCursor()
        }
        const rows = yield* repo.list({
          companyId,
          userId: params.user_id,
          status: params.status,
          after,
          limit: params.limit + 1
        })
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.id }), toAssignment)
      }).pipe(Effect.withSpan("Assignments.list", { attributes: { companyId } }))

    /** Reads one assignment of the tenant. */
    const get = (companyId: string, id: string) =>
      Effect.gen(function*() {
        const row = yield* repo.find(companyId, id)
        if (row === undefined) {
          return yield* new NotFound({ message: `Assignment ${id} not found.` })
        }
        return toAssignment(row)
      }).pipe(Effect.withSpan("Assignments.get", { attributes: { companyId, assignmentId: id } }))

    /**
     * Completes the oldest open assignment of the session's user on its
     * scenario and publishes `assignment.completed`. Run it in the transaction
     * that stores the scorecard. Returns the completed assignment's id, or
     * `undefined` when no assignment was open.
     */
    const completeOldestOpen = (scored: ScoredSessionOnScenario) =>
      Effect.gen(function*() {
        const completed = yield* repo.completeOldestOpen({
          companyId: scored.companyId,
          userId: scored.userId,
          scenarioId: scored.scenarioId,
          sessionId: scored.sessionId,
          scorecardId: scored.scorecardId,
          completedAt: scored.scoredAt
        })
        if (completed === undefined) return undefined

        yield* events.publish("assignment.completed", scored.companyId, completed.completed_at, {
          assignment_id: completed.id,
          user_id: completed.user_id,
          scenario_id: completed.scenario_id,
          session_id: completed.session_id,
          scorecard_id: completed.scorecard_id,
          overall_score: scored.overallScore,
          completed_at: completed.completed_at
        })
        yield* Effect.logInfo("Assignment completed").pipe(Effect.annotateLogs({ assignmentId: completed.id }))
        return completed.id
      }).pipe(
        Effect.withSpan("Assignments.completeOldestOpen", {
          attributes: { companyId: scored.companyId, sessionId: scored.sessionId }
        })
      )

    return { create, list, get, completeOldestOpen } as const
  }),
  dependencies: [AssignmentsRepo.Default]
}) {}
