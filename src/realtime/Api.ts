import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { IsoTimestamp, strictBody } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../ApiErrors.ts"
import { Transcript } from "../integrations/Api.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Id of a realtime session, one per live call run with the realtime assist. */
export const RealtimeSessionId = Schema.UUID.pipe(Schema.brand("RealtimeSessionId")).annotations({
  identifier: "RealtimeSessionId",
  description: "Id of a realtime session (UUID)."
})
export type RealtimeSessionId = typeof RealtimeSessionId.Type

/** Body of `POST /v1/realtime-sessions`. */
export const RecordRealtimeSession = Schema.Struct({
  user_id: Schema.UUID.annotations({ description: "The tenant's user who ran the call (UUID)." }),
  started_at: IsoTimestamp.annotations({ description: "When the call started, ISO 8601 with a time zone." }),
  ended_at: IsoTimestamp.annotations({ description: "When the call ended, after started_at." }),
  transcript: Transcript
})
export type RecordRealtimeSession = typeof RecordRealtimeSession.Type

/** A finished realtime call. */
export const RealtimeSession = Schema.Struct({
  id: RealtimeSessionId,
  user_id: Schema.UUID,
  started_at: Schema.Date,
  ended_at: Schema.Date,
  duration_seconds: Schema.Int.annotations({ description: "Length of the call in whole seconds, rounded." }),
  created_at: Schema.Date
}).annotations({ identifier: "RealtimeSession" })
export type RealtimeSession = typeof RealtimeSession.Type

/** The CRM autopop of a realtime call. Its `assist_id` identifies it in `realtime.autopop_ready`. */
export const Autopop = Schema.Struct({
  assist_id: Schema.UUID,
  session_id: RealtimeSessionId,
  user_id: Schema.UUID,
  summary: Schema.String.annotations({ description: "Summary of the call in three to five sentences." }),
  next_step: Schema.String.annotations({ description: "One next action with its owner and, where named, its timing." }),
  key_topics: Schema.Array(Schema.String),
  draft_followup_email: Schema.String.annotations({
    description: "Follow-up email to the buyer, starting with \"Subject: <subject>\" and a blank line."
  }),
  duration_seconds: Schema.Int,
  created_at: Schema.Date
}).annotations({ identifier: "Autopop" })
export type Autopop = typeof Autopop.Type

/** Realtime calls and their CRM autopops. */
export class RealtimeApi extends HttpApiGroup.make("realtime")
  .add(
    HttpApiEndpoint.post("recordSession", "/v1/realtime-sessions")
      .setPayload(strictBody(RecordRealtimeSession))
      .addSuccess(RealtimeSession, { status: 201 })
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Records a finished realtime call of a user with its transcript. Needs the write scope."
      )
  )
  .add(
    HttpApiEndpoint.post("autopop", "/api/realtime/sessions/:id/autopop")
      .setPath(Schema.Struct({ id: RealtimeSessionId }))
      .addSuccess(Autopop, { status: 201 })
      // Documents the repeat for a session that has its autopop. The handler builds that response itself.
      .addSuccess(Autopop.annotations({ description: "The autopop generated before for this session." }))
      .addError(Forbidden)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Generates the CRM autopop of a finished realtime session (summary, next step, key topics, follow-up email) and emits realtime.autopop_ready. A session that has its autopop returns it with 200 and emits nothing. A live session is 409. Needs the write scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Realtime calls")
{}
