import { HttpApiBuilder } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { WageIndexSnapshots } from "./WageIndexSnapshots.ts"

/** Logs a failed query and fails with the opaque 500, so no SQL reaches the response. */
const hideSqlErrors = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Wage index query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )

const WageIndexHttp = HttpApiBuilder.group(SalesLabApi, "wageIndex", (handlers) =>
  Effect.gen(function*() {
    const snapshots = yield* WageIndexSnapshots
    return handlers
      .handle("list", ({ urlParams }) => hideSqlErrors(snapshots.list(urlParams)))
      .handle("publish", ({ path, payload }) => hideSqlErrors(snapshots.setPublished(path.snapshot_id, payload.publish)))
  }))

/**
 * Handlers of the operator wage index routes with the service behind them.
 * Needs `AppConfig`, `SqlClient` and the `OperatorAuthentication` middleware.
 */
export const WageIndexHttpLive = WageIndexHttp.pipe(Layer.provide(WageIndexSnapshots.Default))
