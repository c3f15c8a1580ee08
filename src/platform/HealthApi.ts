import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"

/** Body of a successful probe. */
export const ProbeStatus = Schema.Struct({ status: Schema.Literal("ok") })

/** The database cannot be reached yet, or migrations have not run. */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Liveness and readiness probes for orchestrators and load balancers. */
export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(ProbeStatus)
      .annotate(OpenApi.Description, "200 while the process lives.")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(ProbeStatus)
      .addError(NotReady)
      .annotate(OpenApi.Description, "200 once the database is reachable and migrated.")
  )
{}
