import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { Badges } from "./Badges.ts"

const BadgesHttp = HttpApiBuilder.group(SalesLabApi, "badges", (handlers) =>
  Effect.gen(function*() {
    const badges = yield* Badges
    return handlers.handle("listForUser", ({ path, urlParams }) =>
      requireScope("read").pipe(
        Effect.zipRight(CurrentTenant),
        Effect.flatMap((tenant) => badges.listForUser(tenant.companyId, path.id, urlParams)),
        Effect.catchTag("SqlError", (error) =>
          Effect.zipRight(
            Effect.logError("Badge query failed", error),
            new InternalError({ message: "An internal error occurred. Retry the request later." })
          ))
      ))
  }))

/** Handlers of the badge routes with the services behind them. Needs `SqlClient` and the `Authentication` middleware. */
export const GamificationHttpLive = BadgesHttp.pipe(
  Layer.provide(Badges.Default),
  Layer.provide(Events.Default)
)
