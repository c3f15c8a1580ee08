import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { companyWithScope } from "../tenancy/Security.ts"
import { Assignments } from "./Assignments.ts"

const hideSqlErrors = sqlErrorsAsInternal("Assignment query failed")

const AssignmentsHttp = HttpApiBuilder.group(SalesLabApi, "assignments", (handlers) =>
  Effect.gen(function*() {
    const assignments = yield* Assignments
    return handlers
      .handle("create", ({ payload }) =>
        companyWithScope("write").pipe(
          Effect.flatMap((companyId) => assignments.create(companyId, payload)),
          hideSqlErrors
        ))
      .handle("list", ({ urlParams }) =>
        companyWithScope("read").pipe(
          Effect.flatMap((companyId) => assignments.list(companyId, urlParams)),
          hideSqlErrors
        ))
      .handle("get", ({ path }) =>
        companyWithScope("read").pipe(
          Effect.flatMap((companyId) => assignments.get(companyId, path.id)),
          hideSqlErrors
        ))
  }))

/** Handlers of the assignment routes with the services behind them. Needs `SqlClient` and the `Authentication` middleware. */
export const AssignmentsHttpLive = AssignmentsHttp.pipe(
  Layer.provide(Assignments.Default),
  Layer.provide(Events.Default)
)
