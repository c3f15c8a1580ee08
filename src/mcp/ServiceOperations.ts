import { Effect, Layer } from "effect"
import { CoachingBriefs, CoachingBriefsLive } from "../coaching/Briefs.ts"
import { Events } from "../events/Events.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { ScenarioId } from "../practice/Api.ts"
import { PracticeCalls } from "../practice/PracticeCalls.ts"
import { PracticeSessions } from "../practice/PracticeSessions.ts"
import { Scenarios } from "../practice/Scenarios.ts"
import { ScorecardGrader } from "../practice/ScorecardGrader.ts"
import { VoiceAgent } from "../practice/VoiceAgent.ts"
import type { CurrentTenant } from "../tenancy/Security.ts"
import { type SalesLabOperations, ToolFailure } from "./Tools.ts"

const hideSqlErrors = sqlErrorsAsInternal("MCP tool query failed")

/** Turns a domain error, which carries a message for the caller, into a tool failure. */
const asToolFailure = <A, E extends { readonly message: string }>(self: Effect.Effect<A, E>) =>
  Effect.mapError(self, (error) => new ToolFailure({ message: error.message }))

/**
 * The tools' operations inside the service: the same domain services as the
 * REST routes, on behalf of one tenant. Scopes are checked by the caller
 * against the tool catalog.
 */
export class ServiceOperations extends Effect.Service<ServiceOperations>()("saleslab/McpServiceOperations", {
  effect: Effect.gen(function*() {
    const sessions = yield* PracticeSessions
    const scenarios = yield* Scenarios
    const practiceCalls = yield* PracticeCalls
    const briefs = yield* CoachingBriefs

    /** Returns the operations of `tenant`. */
    const forTenant = (tenant: CurrentTenant["Type"]): SalesLabOperations => ({
      queryScorecard: (sessionId) => sessions.scorecard(tenant.companyId, sessionId).pipe(hideSqlErrors, asToolFailure),
      listRecentSessions: (input) =>
        sessions.list(tenant.companyId, input.user_id === undefined ? { limit: input.limit } : input).pipe(
          hideSqlErrors,
          asToolFailure
        ),
      createScenario: (input) => scenarios.create(tenant.companyId, input).pipe(hideSqlErrors, asToolFailure),
      startPracticeCall: (input) =>
        practiceCalls.start(
          tenant.companyId,
          { scenario_id: ScenarioId.make(input.scenario_id), ...input.user_id === undefined ? {} : { user_id: input.user_id } },
          tenant.defaultUserId
        ).pipe(hideSqlErrors, asToolFailure),
      getCoachingBrief: (userId) => briefs.latest(tenant.companyId, userId).pipe(hideSqlErrors, asToolFailure)
    })

    return { forTenant } as const
  })
}) {}

/**
 * `ServiceOperations` with the services behind it: the same layers as the
 * REST routes use, so that one service graph shares them. Needs `AppConfig`
 * and `SqlClient`.
 */
export const ServiceOperationsLive = ServiceOperations.Default.pipe(
  Layer.provide([Scenarios.Default, PracticeCalls.Default, PracticeSessions.Default, CoachingBriefsLive]),
  Layer.provide([VoiceAgent.layer, ScorecardGrader.layer, Events.Default])
)
