import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { strictBody } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound } from "../ApiErrors.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Body of `POST /api/coaching/streak`. */
export const StreakCheckIn = Schema.Struct({
  user_id: Schema.UUID.annotations({ description: "Id of the rep who checks in, a user of the tenant (UUID)." })
})
export type StreakCheckIn = typeof StreakCheckIn.Type

/** A rep's practice streak as of a check-in. */
export const StreakCheckInResult = Schema.Struct({
  user_id: Schema.UUID,
  current_streak: Schema.Int.annotations({
    description: "Consecutive practice days ending today or yesterday, in the company's time zone; 0 when neither had practice."
  }),
  longest_streak: Schema.Int.annotations({ description: "Maximum run of consecutive practice days so far." }),
  broke_streak: Schema.Boolean.annotations({
    description: "True on the one check-in that finds a streak of at least 2 days broken; that check-in emits coaching.streak_broken."
  }),
  broken_at_value: Schema.NullOr(Schema.Int).annotations({
    description: "Length in days of the streak that broke when broke_streak is true, otherwise null."
  })
}).annotations({ identifier: "StreakCheckInResult" })
export type StreakCheckInResult = typeof StreakCheckInResult.Type

/** The daily check-in of a rep's practice streak. */
export class StreaksApi extends HttpApiGroup.make("streaks")
  .add(
    HttpApiEndpoint.post("checkIn", "/api/coaching/streak")
      .setPayload(strictBody(StreakCheckIn))
      .addSuccess(StreakCheckInResult)
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Records a rep's daily check-in and returns the rep's practice streak. A practice day is a calendar day, in the company's time zone, with at least one completed practice session. The first check-in after a streak of 2 or more days ended emits coaching.streak_broken once for that streak. Needs the write scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Coaching streaks")
{}
