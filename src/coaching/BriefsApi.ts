import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Forbidden, NotFound } from "../ApiErrors.ts"
import { UserId } from "../tenancy/Api.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Id of a weekly coaching brief. */
export const BriefId = Schema.UUID.pipe(Schema.brand("BriefId")).annotations({
  identifier: "BriefId",
  description: "Id of a weekly coaching brief (UUID)."
})
export type BriefId = typeof BriefId.Type

const CalendarDate = Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}$/))

/** A weekly coaching brief as it was mailed to the rep. */
export const CoachingBrief = Schema.Struct({
  id: BriefId,
  user_id: Schema.UUID,
  week_start: CalendarDate.annotations({ description: "Monday of the week the brief covers, YYYY-MM-DD." }),
  week_end: CalendarDate.annotations({ description: "Sunday of the week the brief covers, YYYY-MM-DD." }),
  summary: Schema.String,
  celebrate: Schema.Array(Schema.String).annotations({ description: "Three things the rep did well." }),
  coach: Schema.Array(Schema.String).annotations({ description: "Three things the rep should work on next." }),
  sent_at: Schema.Date.annotations({ description: "When the mail server accepted the brief's mail." })
}).annotations({ identifier: "CoachingBrief" })
export type CoachingBrief = typeof CoachingBrief.Type

/** The weekly coaching briefs of the tenant's users. */
export class CoachingBriefsApi extends HttpApiGroup.make("coachingBriefs")
  .add(
    HttpApiEndpoint.get("latest", "/v1/users/:id/coaching-brief")
      .setPath(Schema.Struct({ id: UserId }))
      .addSuccess(CoachingBrief)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Returns the user's latest weekly coaching brief; 404 when the user is unknown or has no brief yet. Needs the read scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Coaching briefs")
{}
