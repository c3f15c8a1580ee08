import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { BadRequest } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { companyWithScope, CurrentTenant, requireScope } from "../tenancy/Security.ts"
import { elevenLabsSignatureHeader } from "./Api.ts"
import { PostCallWebhook } from "./PostCallWebhook.ts"
import { PracticeCalls } from "./PracticeCalls.ts"
import { PracticeSessions } from "./PracticeSessions.ts"
import { Scenarios } from "./Scenarios.ts"
import { ScorecardGrader } from "./ScorecardGrader.ts"
import { VoiceAgent } from "./VoiceAgent.ts"

const hideSqlErrors = sqlErrorsAsInternal("Practice query failed")

const ScenariosHttp = HttpApiBuilder.group(SalesLabApi, "scenarios", (handlers) =>
  Effect.gen(function*() {
    const scenarios = yield* Scenarios
    return handlers.handle("create", ({ payload }) =>
      companyWithScope("write").pipe(
        Effect.flatMap((companyId) => scenarios.create(companyId, payload)),
        hideSqlErrors
      ))
  }))

const PracticeCallsHttp = HttpApiBuilder.group(SalesLabApi, "practiceCalls", (handlers) =>
  Effect.gen(function*() {
    const practiceCalls = yield* PracticeCalls
    return handlers.handle("start", ({ payload }) =>
      requireScope("write").pipe(
        Effect.zipRight(CurrentTenant),
        Effect.flatMap((tenant) => practiceCalls.start(tenant.companyId, payload, tenant.defaultUserId)),
        hideSqlErrors
      ))
  }))

const SessionsHttp = HttpApiBuilder.group(SalesLabApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* PracticeSessions
    return handlers
      .handle("list", ({ urlParams }) =>
        companyWithScope("read").pipe(
          Effect.flatMap((companyId) => sessions.list(companyId, urlParams)),
          hideSqlErrors
        ))
      .handle("scorecard", ({ path }) =>
        companyWithScope("read").pipe(
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
