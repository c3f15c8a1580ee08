import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { orInternalError } from "../tenancy/internal/databaseFailure.ts"
import { Autopop } from "./Api.ts"
import { AutopopGenerator } from "./AutopopGenerator.ts"
import { type AutopopOutcome, RealtimeSessions } from "./RealtimeSessions.ts"

/** Responds 201 with a new autopop, or 200 with the autopop the session had before. */
const respond = (outcome: AutopopOutcome): Effect.Effect<Autopop | HttpServerResponse.HttpServerResponse> =>
  outcome.created
    ? Effect.succeed(outcome.autopop)
    : Effect.orDie(HttpServerResponse.schemaJson(Autopop)(outcome.autopop, { status: 200 }))

const writingTenant = Effect.zipRight(requireScope("write"), Effect.map(CurrentTenant, (tenant) => tenant.companyId))

const RealtimeHttp = HttpApiBuilder.group(SalesLabApi, "realtime", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* RealtimeSessions
    return handlers
      .handle("recordSession", ({ payload }) =>
        writingTenant.pipe(
          Effect.flatMap((companyId) => sessions.record(companyId, payload)),
          orInternalError
        ))
      .handle("autopop", ({ path }) =>
        writingTenant.pipe(
          Effect.flatMap((companyId) => sessions.autopop(companyId, path.id)),
          orInternalError,
          Effect.flatMap(respond)
        ))
  }))

/**
 * Handlers of the realtime session and autopop routes with the default
 * autopop generator. Needs `SqlClient`, `Outbox` and the `Authentication`
 * middleware.
 */
export const RealtimeHttpLive = RealtimeHttp.pipe(
  Layer.provide(RealtimeSessions.Default),
  Layer.provide([AutopopGenerator.layer, Events.Default])
)
