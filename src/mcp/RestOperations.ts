import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { SalesLabApi } from "../Api.ts"
import { ScenarioId, SessionId } from "../practice/Api.ts"
import { UserId } from "../tenancy/Api.ts"
import { type SalesLabOperations, ToolFailure } from "./Tools.ts"

/** Tags of the JSON errors the REST API responds with, each with a message for the caller. */
const apiErrorTags = new Set([
  "BadRequest",
  "Unauthorized",
  "Forbidden",
  "NotFound",
  "Conflict",
  "RateLimited",
  "InternalError",
  "PayloadTooLarge"
])

/** Turns the error of a REST call into a tool failure with a message on what to do next. */
const toToolFailure = (baseUrl: string) => (error: unknown): ToolFailure => {
  const tagged = error as { readonly _tag?: unknown; readonly message?: unknown; readonly reason?: unknown }
  if (typeof tagged._tag === "string" && apiErrorTags.has(tagged._tag) && typeof tagged.message === "string") {
    return new ToolFailure({ message: tagged.message })
  }
  if (tagged._tag === "RequestError") {
    return new ToolFailure({
      message: `Could not reach the Sales Lab API at ${baseUrl}. Check SALESLAB_API_URL and that the service runs.`
    })
  }
  if (tagged._tag === "ResponseError") {
    const status = (error as { readonly response?: { readonly status?: number } }).response?.status
    return new ToolFailure({ message: `The Sales Lab API at ${baseUrl} responded with the unexpected status ${status}.` })
  }
  return new ToolFailure({ message: `The Sales Lab API at ${baseUrl} sent a response this client could not read.` })
}

/**
 * The tools' operations over the REST API at `baseUrl`, as the holder of
 * `token`, through the typed client derived from `SalesLabApi`. The API
 * checks the token, its scopes and its rate limits.
 */
export const makeRestOperations = (baseUrl: string, token: string) =>
  Effect.gen(function*() {
    const client = yield* HttpApiClient.make(SalesLabApi, {
      baseUrl,
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })
    const failure = toToolFailure(baseUrl)

    const operations: SalesLabOperations = {
      queryScorecard: (sessionId) => client.sessions.scorecard({ path: { id: SessionId.make(sessionId) } }).pipe(Effect.mapError(failure)),
      listRecentSessions: (input) =>
        client.sessions.list({
          urlParams: input.user_id === undefined ? { limit: input.limit } : { limit: input.limit, user_id: input.user_id }
        }).pipe(Effect.mapError(failure)),
      createScenario: (input) => client.scenarios.create({ payload: input }).pipe(Effect.mapError(failure)),
      startPracticeCall: (input) =>
        client.practiceCalls.start({
          payload: {
            scenario_id: ScenarioId.make(input.scenario_id),
            ...input.user_id === undefined ? {} : { user_id: input.user_id }
          }
        }).pipe(Effect.mapError(failure)),
      getCoachingBrief: (userId) =>
        client.coachingBriefs.latest({ path: { id: UserId.make(userId) } }).pipe(Effect.mapError(failure))
    }
    return operations
  })
