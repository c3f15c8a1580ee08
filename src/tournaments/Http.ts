import { HttpApiBuilder } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { CurrentTenant, requireScope, type Scope } from "../tenancy/Security.ts"
import { MatchResults } from "./MatchResults.ts"
import { Tournaments } from "./Tournaments.ts"

/** Logs a failed query and fails with the opaque 500, so no SQL reaches the response. */
const hideSqlErrors = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Tournament query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )

/** Fails with 403 unless the token has `scope`, then returns the company id of the tenant. */
const tenantWith = (scope: Scope) => Effect.zipRight(requireScope(scope), Effect.map(CurrentTenant, (tenant) => tenant.companyId))

const TournamentsAdminHttp = HttpApiBuilder.group(SalesLabApi, "tournamentsAdmin", (handlers) =>
  Effect.gen(function*() {
    const tournaments = yield* Tournaments
    return handlers
      .handle("create", ({ payload }) => hideSqlErrors(tournaments.create(payload)))
      .handle("addTeam", ({ path, payload }) => hideSqlErrors(tournaments.addTeam(path.id, payload)))
      .handle("start", ({ path }) => hideSqlErrors(tournaments.start(path.id)))
  }))

const TournamentsHttp = HttpApiBuilder.group(SalesLabApi, "tournaments", (handlers) =>
  Effect.gen(function*() {
    const tournaments = yield* Tournaments
    const results = yield* MatchResults
    return handlers
      .handle("bracket", ({ path }) =>
        tenantWith("read").pipe(
          Effect.flatMap((companyId) => tournaments.bracket(companyId, path.slug)),
          hideSqlErrors
        ))
      .handle("reportResult", ({ path, payload }) =>
        tenantWith("write").pipe(
          Effect.flatMap((companyId) => results.report(companyId, path.id, payload)),
          hideSqlErrors
        ))
  }))

/**
 * Handlers of the operator tournament routes and of the tenant bracket and
 * match result routes, with the services behind them. Needs `SqlClient` and
 * the `Authentication` and `OperatorAuthentication` middleware.
 */
export const TournamentsHttpLive = Layer.mergeAll(TournamentsAdminHttp, TournamentsHttp).pipe(
  Layer.provide([Tournaments.Default, MatchResults.Default])
)
