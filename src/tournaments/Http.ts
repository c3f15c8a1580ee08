import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { companyWithScope } from "../tenancy/Security.ts"
import { MatchResults } from "./MatchResults.ts"
import { Tournaments } from "./Tournaments.ts"

const hideSqlErrors = sqlErrorsAsInternal("Tournament query failed")

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
        companyWithScope("read").pipe(
          Effect.flatMap((companyId) => tournaments.bracket(companyId, path.slug)),
          hideSqlErrors
        ))
      .handle("reportResult", ({ path, payload }) =>
        companyWithScope("write").pipe(
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
