import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { WageIndexSnapshots } from "./WageIndexSnapshots.ts"

const hideSqlErrors = sqlErrorsAsInternal("Wage index query failed")

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
