import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Conflict } from "../ApiErrors.ts"
import { OperatorAuthentication } from "../tenancy/Security.ts"

const nonBlank = (maxLength: number) =>
  Schema.String.pipe(
    Schema.filter((text) => text.trim() !== "" || "must not be blank"),
    maxCharacters(maxLength)
  )

/** Body of `POST /api/admin/retros`. */
export const PublishChurnRetro = Schema.Struct({
  slug: Schema.String.pipe(
    maxCharacters(100),
    Schema.pattern(/^[a-z0-9]+(-[a-z0-9]+)*$/, {
      message: () => "must be lowercase letters and digits in words joined by single hyphens, such as westwind-q1-2026"
    })
  ).annotations({ description: "Public id of the retro: lowercase kebab case, at most 100 characters." }),
  company_name: nonBlank(200).annotations({ description: "The customer that churned, at most 200 characters." }),
  reason_short: nonBlank(280).annotations({ description: "Why the customer left, at most 280 characters." }),
  what_we_changed: nonBlank(2000).annotations({
    description: "What Sales Lab changed in response, at most 2000 characters."
  })
})
export type PublishChurnRetro = typeof PublishChurnRetro.Type

/** A published churn retro. */
export const ChurnRetro = Schema.Struct({
  slug: Schema.String,
  company_name: Schema.String,
  reason_short: Schema.String,
  what_we_changed: Schema.String,
  published_at: Schema.Date
}).annotations({ identifier: "ChurnRetro" })
export type ChurnRetro = typeof ChurnRetro.Type

/** Publishing public churn retros (operator). */
export class ChurnRetrosApi extends HttpApiGroup.make("churnRetros")
  .add(
    HttpApiEndpoint.post("publish", "/api/admin/retros")
      .setPayload(strictBody(PublishChurnRetro))
      .addSuccess(ChurnRetro, { status: 201 })
      .addError(BadRequest)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Publishes a churn retro and sends churn_retro.published to every tenant's matching subscriptions. A slug that is already published is 409 and sends nothing."
      )
  )
  .middleware(OperatorAuthentication)
  .annotate(OpenApi.Title, "Churn retros")
{}
