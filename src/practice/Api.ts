import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody, strictQuery } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound, Unauthorized } from "../ApiErrors.ts"
import { CategoryScores, Verdict } from "../events/Catalog.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication } from "../tenancy/Security.ts"
import { PostCallTranscription } from "./PostCallPayload.ts"

/** Id of a practice scenario. */
export const ScenarioId = Schema.UUID.pipe(Schema.brand("ScenarioId")).annotations({
  identifier: "ScenarioId",
  description: "Id of a practice scenario (UUID)."
})
export type ScenarioId = typeof ScenarioId.Type

/** Id of a practice session, one per practice call. */
export const SessionId = Schema.UUID.pipe(Schema.brand("SessionId")).annotations({
  identifier: "SessionId",
  description: "Id of a practice session (UUID)."
})
export type SessionId = typeof SessionId.Type

/** Id of a scorecard. */
export const ScorecardId = Schema.UUID.pipe(Schema.brand("ScorecardId")).annotations({
  identifier: "ScorecardId",
  description: "Id of a scorecard (UUID)."
})
export type ScorecardId = typeof ScorecardId.Type

const UserIdField = Schema.UUID.annotations({ description: "Id of a user of the tenant (UUID)." })

const NonBlankString = Schema.String.pipe(Schema.filter((text) => text.trim() !== "" || "must not be blank"))

/** Maximum length of a scenario prompt, in characters. */
export const maxPromptLength = 4000

/** Maximum length of a scenario title, in characters. */
export const maxTitleLength = 200

/** Body of `POST /v1/scenarios`. */
export const CreateScenario = Schema.Struct({
  prompt: NonBlankString.pipe(maxCharacters(maxPromptLength, { message: () => `must be at most ${maxPromptLength} characters` })).annotations({
    description: "Instructions for the AI buyer: persona, situation and objections, at most 4000 characters."
  }),
  title: Schema.optional(
    NonBlankString.pipe(maxCharacters(maxTitleLength, { message: () => `must be at most ${maxTitleLength} characters` })).annotations({
      description: "Short name of the scenario; derived from the prompt when absent."
    })
  ),
  pass_mark: Schema.optional(
    Schema.Int.pipe(Schema.between(0, 100, { message: () => "must be an integer from 0 to 100" })).annotations({
      description: "Overall score, 0 to 100, at or above which a session passes. Default 70."
    })
  )
})
export type CreateScenario = typeof CreateScenario.Type

/** A practice scenario. */
export const Scenario = Schema.Struct({
  id: ScenarioId,
  title: Schema.String,
  prompt: Schema.String,
  pass_mark: Schema.Int,
  created_at: Schema.Date
}).annotations({ identifier: "Scenario" })
export type Scenario = typeof Scenario.Type

/** Body of `POST /v1/practice-calls`. */
export const StartPracticeCall = Schema.Struct({
  scenario_id: ScenarioId,
  user_id: Schema.optional(
    Schema.UUID.annotations({
      description: "Id of the user of the tenant who practises (UUID). When absent, the default_user_id of the " +
        "request's API token is used, and a token without one makes the request a 400."
    })
  )
})
export type StartPracticeCall = typeof StartPracticeCall.Type

/** The dynamic variables to hand to the voice agent; the post-call webhook echoes them back. */
export const DynamicVariables = Schema.Struct({
  saleslab_session_id: Schema.String,
  saleslab_company_id: Schema.String,
  saleslab_user_id: Schema.String,
  saleslab_scenario_id: Schema.String
}).annotations({ identifier: "DynamicVariables" })

/** A started practice call. */
export const PracticeCall = Schema.Struct({
  session_id: SessionId,
  status: Schema.Literal("started"),
  scenario_id: ScenarioId,
  user_id: Schema.UUID,
  started_at: Schema.Date,
  dynamic_variables: DynamicVariables,
  signed_url: Schema.NullOr(Schema.String).annotations({
    description: "Signed ElevenLabs conversation URL; null when no voice agent is configured."
  })
}).annotations({ identifier: "PracticeCall" })
export type PracticeCall = typeof PracticeCall.Type

/** Status of a practice session: `started` until the post-call webhook completes it. */
export const SessionStatus = Schema.Literal("started", "completed")

/** A practice session in a list. */
export const PracticeSession = Schema.Struct({
  id: SessionId,
  user_id: Schema.UUID,
  scenario_id: ScenarioId,
  status: SessionStatus,
  started_at: Schema.Date,
  ended_at: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "PracticeSession" })
export type PracticeSession = typeof PracticeSession.Type

/** Query of `GET /v1/sessions`. */
export const ListSessionsParams = Schema.Struct({
  ...ListParams.fields,
  user_id: Schema.optional(UserIdField)
})
export type ListSessionsParams = typeof ListSessionsParams.Type

/** The scorecard of a completed practice session. */
export const Scorecard = Schema.Struct({
  id: ScorecardId,
  session_id: SessionId,
  user_id: Schema.UUID,
  scenario_id: ScenarioId,
  overall_score: Schema.Int.pipe(Schema.between(0, 100)),
  verdict: Verdict,
  headline: Schema.String,
  category_scores: CategoryScores,
  best_line: Schema.String,
  worst_line: Schema.String,
  next_drill: Schema.String,
  created_at: Schema.Date
}).annotations({ identifier: "Scorecard" })
export type Scorecard = typeof Scorecard.Type

/** Response body of the ElevenLabs post-call webhook. */
export const PostCallOutcome = Schema.Union(
  Schema.Struct({
    status: Schema.Literal("processed", "duplicate"),
    session_id: SessionId,
    scorecard_id: ScorecardId
  }),
  Schema.Struct({ status: Schema.Literal("ignored") })
).annotations({ identifier: "PostCallOutcome" })
export type PostCallOutcome = typeof PostCallOutcome.Type

/** Practice scenarios of the tenant. */
export class ScenariosApi extends HttpApiGroup.make("scenarios")
  .add(
    HttpApiEndpoint.post("create", "/v1/scenarios")
      .setPayload(strictBody(CreateScenario))
      .addSuccess(Scenario, { status: 201 })
      .addError(Forbidden)
      .annotate(OpenApi.Description, "Creates a practice scenario. Needs the write scope.")
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Scenarios")
{}

/** Starting practice calls. */
export class PracticeCallsApi extends HttpApiGroup.make("practiceCalls")
  .add(
    HttpApiEndpoint.post("start", "/v1/practice-calls")
      .setPayload(strictBody(StartPracticeCall))
      .addSuccess(PracticeCall, { status: 201 })
      .addError(Forbidden)
      .addError(NotFound)
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Starts a practice call of a user on a scenario: creates the session and returns the voice agent's variables. " +
          "Without user_id, the call is for the token's default_user_id. Needs the write scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Practice calls")
{}

/** Practice sessions and their scorecards. */
export class SessionsApi extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.get("list", "/v1/sessions")
      .setUrlParams(strictQuery(ListSessionsParams))
      .addSuccess(Page(PracticeSession))
      .addError(Forbidden)
      .addError(BadRequest)
      .annotate(OpenApi.Description, "Lists practice sessions, newest first, optionally of one user. Needs the read scope.")
  )
  .add(
    HttpApiEndpoint.get("scorecard", "/v1/sessions/:id/scorecard")
      .setPath(Schema.Struct({ id: SessionId }))
      .addSuccess(Scorecard)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Returns the scorecard of a practice session; 404 when the session is unknown or not scored yet. Needs the read scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Sessions")
{}

/** Header that carries the ElevenLabs webhook signature. */
export const elevenLabsSignatureHeader = "elevenlabs-signature"

/** The post-call webhook of ElevenLabs, verified by its HMAC signature instead of a bearer token. */
export class ElevenLabsWebhookApi extends HttpApiGroup.make("elevenLabsWebhook")
  .add(
    HttpApiEndpoint.post("postCall", "/api/webhooks/elevenlabs")
      .setHeaders(Schema.Struct({
        [elevenLabsSignatureHeader]: Schema.optional(Schema.String.annotations({
          description: "t=<unix seconds>,v0=<hex HMAC-SHA256 of \"<t>.<raw body>\" keyed with the webhook secret>"
        }))
      }))
      .setPayload(PostCallTranscription)
      .addSuccess(PostCallOutcome)
      .addError(BadRequest)
      .addError(Unauthorized)
      .annotate(
        OpenApi.Description,
        "Completes the practice session named by the call's saleslab_session_id, stores its scorecard and emits session.completed and session.scorecard_finalized, plus assignment.completed when it closes an open assignment and badge.awarded for each new badge. Unknown sessions and other webhook types are answered 200 ignored."
      )
  )
  .annotate(OpenApi.Title, "Incoming ElevenLabs webhook")
{}
