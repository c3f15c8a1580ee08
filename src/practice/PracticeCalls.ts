import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { InternalError, NotFound } from "../ApiErrors.ts"
import { type PracticeCall, SessionId, type StartPracticeCall } from "./Api.ts"
import { PracticeRepo } from "./PracticeRepo.ts"
import { VoiceAgent } from "./VoiceAgent.ts"

/**
 * Starts practice calls. It checks that the scenario and the user belong to
 * the tenant, requests a conversation URL from the voice agent and records
 * the session as started.
 */
export class PracticeCalls extends Effect.Service<PracticeCalls>()("saleslab/PracticeCalls", {
  effect: Effect.gen(function*() {
    const repo = yield* PracticeRepo
    const voiceAgent = yield* VoiceAgent

    const start = (companyId: string, input: StartPracticeCall) =>
      Effect.gen(function*() {
        const scenario = yield* repo.findScenario(companyId, input.scenario_id)
        if (scenario === undefined) {
          return yield* new NotFound({ message: `Scenario ${input.scenario_id} not found.` })
        }
        if (!(yield* repo.userExists(companyId, input.user_id))) {
          return yield* new NotFound({ message: `User ${input.user_id} not found.` })
        }

        const sessionId = SessionId.make(randomUUID())
        const conversation = { sessionId, companyId, userId: input.user_id, scenarioId: scenario.id }
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
          userId: input.user_id,
          scenarioId: scenario.id,
          startedAt
        })

        const call: PracticeCall = {
          session_id: sessionId,
          status: "started",
          scenario_id: scenario.id,
          user_id: input.user_id,
          started_at: startedAt,
          dynamic_variables: {
            saleslab_session_id: sessionId,
            saleslab_company_id: companyId,
            saleslab_user_id: input.user_id,
            saleslab_scenario_id: scenario.id
          },
          signed_url: signedUrl
        }
        return call
      }).pipe(
        Effect.annotateLogs({ companyId, scenarioId: input.scenario_id, userId: input.user_id }),
        Effect.withSpan("PracticeCalls.start", { attributes: { companyId, scenarioId: input.scenario_id } })
      )

    return { start } as const
  }),
  dependencies: [PracticeRepo.Default]
}) {}
