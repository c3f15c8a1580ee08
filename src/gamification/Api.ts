import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound } from "../ApiErrors.ts"
import { strictQuery } from "../Json.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication } from "../tenancy/Security.ts"

/** A badge a user has earned. */
export const UserBadge = Schema.Struct({
  badge_slug: Schema.String.annotations({ description: "Stable name of the badge, such as first_pass or streak_7." }),
  title: Schema.String.annotations({ description: "Name of the badge for people." }),
  description: Schema.String.annotations({ description: "What earns the badge." }),
  awarded_at: Schema.Date,
  session_id: Schema.NullOr(Schema.UUID).annotations({
    description: "The practice session whose scorecard earned the badge."
  })
}).annotations({ identifier: "UserBadge" })
export type UserBadge = typeof UserBadge.Type

/** Badges earned by the users of the tenant. */
export class BadgesApi extends HttpApiGroup.make("badges")
  .add(
    HttpApiEndpoint.get("listForUser", "/v1/users/:id/badges")
      .setPath(Schema.Struct({ id: Schema.UUID.annotations({ description: "Id of a user of the tenant (UUID)." }) }))
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(UserBadge))
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Lists the badges a user has earned, most recent first. Badges are awarded when a scored practice session meets their rule. Needs the read scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Badges")
{}
