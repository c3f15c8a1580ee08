import { HttpApiBuilder } from "@effect/platform"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { BadRequest, InternalError } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { CurrentTenant, requireScope, type Scope } from "../tenancy/Security.ts"
import { elevenLabsSignatureHeader } from "./Api.ts"
import { PostCallWebhook } from "./PostCallWebhook.ts"
import { PracticeCalls } from "./PracticeCalls.ts"
import { PracticeSessions } from "./PracticeSessions.ts"
import { Scenarios } from "./Scenarios.ts"
import { ScorecardGrader } from "./ScorecardGrader.ts"
import { VoiceAgent } from "./VoiceAgent.ts"

/** Logs a failed query and fails with the opaque 500, so no SQL reaches the response. */
const hideSqlErrors = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Practice query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )

/** Fails with 403 unless the token has `scope`, then returns the company id of the tenant. */
const tenantWith = (scope: Scope) => Effect.zipRight(requireScope(scope), Effect.map(CurrentTenant, (tenant) => tenant.companyId))

const ScenariosHttp = HttpApiBuilder.group(SalesLabApi, "scenarios", (handlers) =>
  Effect.gen(function*() {
    const scenarios = yield* Scenarios
    return handlers.handle("create", ({ payload }) =>
      tenantWith("write").pipe(
        Effect.flatMap((companyId) => scenarios.create(companyId, payload)),
        hideSqlErrors
      ))
  }))

const PracticeCallsHttp = HttpApiBuilder.group(SalesLabApi, "practiceCalls", (handlers) =>
  Effect.gen(function*() {
    const practiceCalls = yield* PracticeCalls
    return handlers.handle("start", ({ payload }) =>
      tenantWith("write").pipe(
        Effect.flatMap((companyId) => practiceCalls.start(companyId, payload)),
        hideSqlErrors
      ))
  }))

const SessionsHttp = HttpApiBuilder.group(SalesLabApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* PracticeSessions
    return handlers
      .handle("list", ({ urlParams }) =>
        tenantWith("read").pipe(
          Effect.flatMap((companyId) => sessions.list(companyId, urlParams)),
          hideSqlErrors
        ))
      .handle("scorecard", ({ path }) =>
        tenantWith("read").pipe(
          Effect.flatMap((companyId) => sessions.scorecard(companyId, path.id)),
          hideSqlErrors
        ))
  }))

/**
 * The webhook handler reads the raw body instead of the decoded payload,
 * because the signature covers the exact bytes ElevenLabs sent.
 */
const ElevenLabsWebhookHttp = HttpApiBuilder.group(SalesLabApi, "elevenLabsWebhook", (handlers) =>
  Effect.gen(function*() {
    const webhook = yield* PostCallWebhook
    return handlers.handleRaw("postCall", ({ headers, request }) =>
      request.arrayBuffer.pipe(
        Effect.mapError(() => new BadRequest({ message: "The request body could not be read." })),
        Effect.flatMap((body) =>
          webhook.receive({ signature: headers[elevenLabsSignatureHeader], body: new Uint8Array(body) })
        ),
        hideSqlErrors
      ))
  }))

/**
 * Handlers of the scenario, practice call, session and ElevenLabs webhook
 * routes with the services behind them. Needs `AppConfig`, `SqlClient` and
 * the `Authentication` middleware.
 */
export const PracticeHttpLive = Layer.mergeAll(ScenariosHttp, PracticeCallsHttp, SessionsHttp, ElevenLabsWebhookHttp).pipe(
  Layer.provide([Scenarios.Default, PracticeCalls.Default, PracticeSessions.Default, PostCallWebhook.Default]),
  Layer.provide([VoiceAgent.layer, ScorecardGrader.layer, Events.Default])
)
