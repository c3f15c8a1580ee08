import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { NotFound } from "../ApiErrors.ts"
import { OperatorAuthentication } from "../tenancy/Security.ts"

/** Response body of a cron job that was started. */
export const CronJobStarted = Schema.Struct({
  job: Schema.String,
  status: Schema.Literal("started")
}).annotations({ identifier: "CronJobStarted" })
export type CronJobStarted = typeof CronJobStarted.Type

/** Operator route that starts a cron job now, outside its schedule. */
export class CronApi extends HttpApiGroup.make("cron")
  .add(
    HttpApiEndpoint.post("run", "/api/cron/:job")
      .setPath(Schema.Struct({ job: Schema.String }))
      .addSuccess(CronJobStarted, { status: 202 })
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Starts a cron job in the background and answers 202 at once. An unknown job is 404, and its message lists the known jobs."
      )
  )
  .middleware(OperatorAuthentication)
{}
