import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { CoachingBriefs, CoachingBriefsLive } from "./Briefs.ts"

const hideSqlErrors = sqlErrorsAsInternal("Coaching brief query failed")

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
