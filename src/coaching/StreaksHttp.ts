import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { Streaks } from "./Streaks.ts"

const StreaksHttp = HttpApiBuilder.group(SalesLabApi, "streaks", (handlers) =>
  Effect.gen(function*() {
    const streaks = yield* Streaks
    return handlers.handle("checkIn", ({ payload }) =>
      requireScope("write").pipe(
        Effect.zipRight(CurrentTenant),
        Effect.flatMap((tenant) => streaks.checkIn(tenant.companyId, payload.user_id)),
        Effect.catchTag("SqlError", (error) =>
          Effect.zipRight(
            Effect.logError("Streak check-in query failed", error),
            new InternalError({ message: "An internal error occurred. Retry the request later." })
          ))
      ))
  }))

/** Handlers of the streak check-in route with the services behind it. Needs `SqlClient` and the `Authentication` middleware. */
export const StreaksHttpLive = StreaksHttp.pipe(
  Layer.provide(Streaks.Default),
  Layer.provide(Events.Default)
)
