import { HttpApiBuilder } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { CoachingBriefs, CoachingBriefsLive } from "./Briefs.ts"

/** Logs a failed query and fails with the opaque 500, so no SQL reaches the response. */
const hideSqlErrors = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Coaching brief query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )

/**
 * Handler of `GET /v1/users/{id}/coaching-brief`, with the briefs service.
 * Needs `AppConfig`, `SqlClient` and the `Authentication` middleware.
 */
export const BriefsHttpLive = HttpApiBuilder.group(SalesLabApi, "coachingBriefs", (handlers) =>
  Effect.gen(function*() {
    const briefs = yield* CoachingBriefs
    return handlers.handle("latest", ({ path }) =>
      requireScope("read").pipe(
        Effect.zipRight(CurrentTenant),
        Effect.flatMap((tenant) => briefs.latest(tenant.companyId, path.id)),
        hideSqlErrors
      ))
  })).pipe(Layer.provide(CoachingBriefsLive))
