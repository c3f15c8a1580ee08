import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, InternalError, NotFound } from "../ApiErrors.ts"
import { type PracticeCall, type ScenarioId, SessionId, type StartPracticeCall } from "./Api.ts"
import { PracticeRepo } from "./PracticeRepo.ts"
import { VoiceAgent } from "./VoiceAgent.ts"

/**
 * Returns the user a practice call is for: `userId` from the request when
 * given, otherwise the default rep of the caller's API token. Fails with
 * `BadRequest` naming `user_id` when both are missing.
 */
export const resolvePracticeUser = (
  userId: string | undefined,
  defaultUserId: string | null
): Effect.Effect<string, BadRequest> => {
  if (userId !== undefined) return Effect.succeed(userId)
  if (defaultUserId !== null) return Effect.succeed(defaultUserId)
  return Effect.fail(
    new BadRequest({
      field: "user_id",
      message: "user_id is missing and this API token has no default_user_id. Pass user_id, " +
        "or set default_user_id on the token with PATCH /v1/api-tokens/{id}."
    })
  )
}

/**
 * Starts practice calls. It checks that the scenario and the user belong to
 * the tenant, requests a conversation URL from the voice agent and records
 * the session as started.
 */
export class PracticeCalls extends Effect.Service<PracticeCalls>()("saleslab/PracticeCalls", {
  effect: Effect.gen(function*() {
    const repo = yield* PracticeRepo
    const voiceAgent = yield* VoiceAgent

    /** Starts a practice call of `userId` on a scenario. */
    const startForUser = (companyId: string, scenarioId: ScenarioId, userId: string) =>
      Effect.gen(function*() {
        const scenario = yield* repo.findScenario(companyId, scenarioId)
        if (scenario === undefined) {
          return yield* new NotFound({ message: `Scenario ${scenarioId} not found.` })
        }
        if (!(yield* repo.userExists(companyId, userId))) {
          return yield* new NotFound({ message: `User ${userId} not found.` })
        }

        const sessionId = SessionId.make(randomUUID())
        const conversation = { sessionId, companyId, userId, scenarioId: scenario.id }
        // The URL is fetched before the session row is written, so a failed request leaves no orphan session.
        const signedUrl = yield* voiceAgent.signedConversationUrl(conversation).pipe(
          Effect.tapError((error) => Effect.logError("Voice agent request failed", error.cause)),
          Effect.mapError(() =>
            new InternalError({ message: "The voice agent could not start the call. Retry the request later." })
          )
        )

        const startedAt = new Date(yield* Clock.currentTimeMillis)
        yield* repo.insertSession({
          id: sessionId,
          companyId,
          userId,
          scenarioId: scenario.id,
          startedAt
        })

        const call: PracticeCall = {
          session_id: sessionId,
          status: "started",
          scenario_id: scenario.id,
          user_id: userId,
          started_at: startedAt,
          dynamic_variables: {
            saleslab_session_id: sessionId,
            saleslab_company_id: companyId,
            saleslab_user_id: userId,
            saleslab_scenario_id: scenario.id
          },
          signed_url: signedUrl
        }
        return call
      }).pipe(Effect.annotateLogs({ companyId, scenarioId, userId }))

    /**
     * Starts a practice call for `input.user_id`, or for `defaultUserId` when
     * the input has none. `defaultUserId` is the default rep of the caller's
     * API token, as `CurrentTenant.defaultUserId` carries it. Fails with
     * `BadRequest` naming `user_id` when both are missing, and with `NotFound`
     * for a scenario or user outside the company.
     */
    const start = (companyId: string, input: StartPracticeCall, defaultUserId: string | null) =>
      resolvePracticeUser(input.user_id, defaultUserId).pipe(
        Effect.flatMap((userId) => startForUser(companyId, input.scenario_id, userId)),
        Effect.withSpan("PracticeCalls.start", {
          attributes: { companyId, scenarioId: input.scenario_id, defaultUser: input.user_id === undefined }
        })
      )

    return { start } as const
  }),
  dependencies: [PracticeRepo.Default]
}) {}
