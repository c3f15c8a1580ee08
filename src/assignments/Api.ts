import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { IsoTimestamp, strictBody, strictQuery } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound } from "../ApiErrors.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Id of an assignment. */
export const AssignmentId = Schema.UUID.pipe(Schema.brand("AssignmentId")).annotations({
  identifier: "AssignmentId",
  description: "Id of an assignment (UUID)."
})
export type AssignmentId = typeof AssignmentId.Type

/** `open` until a scored session of the user on the scenario completes the assignment. */
export const AssignmentStatus = Schema.Literal("open", "completed").annotations({
  identifier: "AssignmentStatus",
  description: "open until a scored practice session of the user on the scenario completes it, then completed."
})
export type AssignmentStatus = typeof AssignmentStatus.Type

const UserIdField = Schema.UUID.annotations({ description: "Id of a user of the tenant (UUID)." })
const ScenarioIdField = Schema.UUID.annotations({ description: "Id of a scenario of the tenant (UUID)." })

/** Body of `POST /v1/assignments`. */
export const CreateAssignment = Schema.Struct({
  user_id: UserIdField,
  scenario_id: ScenarioIdField,
  due_at: Schema.optional(Schema.NullOr(IsoTimestamp).annotations({
    description: "When the drill is due, an ISO 8601 timestamp in the future. None when absent or null."
  }))
})
export type CreateAssignment = typeof CreateAssignment.Type

/** A drill assigned to a user: one practice session on one scenario. */
export const Assignment = Schema.Struct({
  id: AssignmentId,
  user_id: Schema.UUID,
  scenario_id: Schema.UUID,
  status: AssignmentStatus,
  due_at: Schema.NullOr(Schema.Date),
  created_at: Schema.Date,
  completed_at: Schema.NullOr(Schema.Date),
  session_id: Schema.NullOr(Schema.UUID).annotations({
    description: "The practice session that completed the assignment; null while it is open."
  })
}).annotations({ identifier: "Assignment" })
export type Assignment = typeof Assignment.Type

/** Query of `GET /v1/assignments`. */
export const ListAssignmentsParams = Schema.Struct({
  ...ListParams.fields,
  user_id: Schema.optional(UserIdField),
  status: Schema.optional(AssignmentStatus)
})
export type ListAssignmentsParams = typeof ListAssignmentsParams.Type

/** Drills assigned to the tenant's users. */
export class AssignmentsApi extends HttpApiGroup.make("assignments")
  .add(
    HttpApiEndpoint.post("create", "/v1/assignments")
      .setPayload(strictBody(CreateAssignment))
      .addSuccess(Assignment, { status: 201 })
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Assigns a scenario to a user. The user's next scored practice session on that scenario completes the oldest open assignment and emits assignment.completed. Needs the write scope."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/assignments")
      .setUrlParams(strictQuery(ListAssignmentsParams))
      .addSuccess(Page(Assignment))
      .addError(BadRequest)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Lists assignments, newest first, optionally of one user and in one status. Needs the read scope."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/assignments/:id")
      .setPath(Schema.Struct({ id: AssignmentId }))
      .addSuccess(Assignment)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Returns one assignment. Needs the read scope.")
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Assignments")
{}
