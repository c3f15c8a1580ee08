import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { orInternalError } from "../tenancy/internal/databaseFailure.ts"
import { ChurnRetros } from "./ChurnRetros.ts"

const ChurnRetrosHttp = HttpApiBuilder.group(SalesLabApi, "churnRetros", (handlers) =>
  Effect.gen(function*() {
    const retros = yield* ChurnRetros
    return handlers.handle("publish", ({ payload }) => orInternalError(retros.publish(payload)))
  }))

/**
 * Handlers of `POST /api/admin/retros` with the churn retro service. Needs
 * `SqlClient`, `Outbox` and the `OperatorAuthentication` middleware.
 */
export const RetrosHttpLive = ChurnRetrosHttp.pipe(
  Layer.provide(ChurnRetros.Default),
  Layer.provide(Events.Default)
)
