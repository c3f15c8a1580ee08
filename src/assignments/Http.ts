import { HttpApiBuilder } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope, type Scope } from "../tenancy/Security.ts"
import { Assignments } from "./Assignments.ts"

/** Fails with 403 unless the token has `scope`, then returns the company id of the tenant. */
const tenantWith = (scope: Scope) =>
  Effect.zipRight(requireScope(scope), Effect.map(CurrentTenant, (tenant) => tenant.companyId))

/** Logs a failed query and fails with the opaque 500, so no SQL reaches the response. */
const hideSqlErrors = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Assignment query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )

const AssignmentsHttp = HttpApiBuilder.group(SalesLabApi, "assignments", (handlers) =>
  Effect.gen(function*() {
    const assignments = yield* Assignments
    return handlers
      .handle("create", ({ payload }) =>
        tenantWith("write").pipe(
          Effect.flatMap((companyId) => assignments.create(companyId, payload)),
          hideSqlErrors
        ))
      .handle("list", ({ urlParams }) =>
        tenantWith("read").pipe(
          Effect.flatMap((companyId) => assignments.list(companyId, urlParams)),
          hideSqlErrors
        ))
      .handle("get", ({ path }) =>
        tenantWith("read").pipe(
          Effect.flatMap((companyId) => assignments.get(companyId, path.id)),
          hideSqlErrors
        ))
  }))

/** Handlers of the assignment routes with the services behind them. Needs `SqlClient` and the `Authentication` middleware. */
export const AssignmentsHttpLive = AssignmentsHttp.pipe(
  Layer.provide(Assignments.Default),
  Layer.provide(Events.Default)
)
