import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { orInternalError } from "../tenancy/internal/databaseFailure.ts"
import { ImportedCall } from "./Api.ts"
import { type CallImportOutcome, CallImports } from "./CallImports.ts"
import { ScenarioGenerator } from "./ScenarioGenerator.ts"

/** Responds 201 with a new import, or 200 with the import of a source URL imported before. */
const respond = (outcome: CallImportOutcome): Effect.Effect<ImportedCall | HttpServerResponse.HttpServerResponse> =>
  outcome.created
    ? Effect.succeed(outcome.call)
    : Effect.orDie(HttpServerResponse.schemaJson(ImportedCall)(outcome.call, { status: 200 }))

const CallImportsHttp = HttpApiBuilder.group(SalesLabApi, "callImports", (handlers) =>
  Effect.gen(function*() {
    const callImports = yield* CallImports
    return handlers.handle("import", ({ payload }) =>
      requireScope("write").pipe(
        Effect.zipRight(CurrentTenant),
        Effect.flatMap((tenant) => callImports.importCall(tenant.companyId, payload)),
        orInternalError,
        Effect.flatMap(respond)
      ))
  }))

/**
 * Handlers of `POST /api/integrations/calls` with the call import service and
 * the default scenario generator. Needs `SqlClient`, `Outbox` and the
 * `Authentication` middleware.
 */
export const IntegrationsHttpLive = CallImportsHttp.pipe(
  Layer.provide(CallImports.Default),
  Layer.provide([ScenarioGenerator.layer, Events.Default])
)
