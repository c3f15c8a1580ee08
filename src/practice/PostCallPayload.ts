import { Either, ParseResult, Schema } from "effect"
import { JsonValue } from "../Json.ts"

/**
 * The body of an ElevenLabs post-call webhook, reduced to the fields this
 * service reads. Unknown fields are ignored, and optional fields that
 * ElevenLabs sends as `null` decode like absent ones.
 */

/** One turn of the call: `user` is the rep practising, `agent` is the AI buyer. */
export const TranscriptTurn = Schema.Struct({
  role: Schema.String,
  message: Schema.optionalWith(Schema.String, { nullable: true }),
  time_in_call_secs: Schema.optionalWith(Schema.Number, { nullable: true })
})
export type TranscriptTurn = typeof TranscriptTurn.Type

/** One data-collection item. Its `value` is whatever the agent extracted: a number, a string or null. */
export const DataCollectionResult = Schema.Struct({
  value: Schema.optional(JsonValue),
  rationale: Schema.optionalWith(Schema.String, { nullable: true })
})
export type DataCollectionResult = typeof DataCollectionResult.Type

/** One evaluation criterion judged by the agent. */
export const EvaluationCriterionResult = Schema.Struct({
  criteria_id: Schema.optionalWith(Schema.String, { nullable: true }),
  result: Schema.String,
  rationale: Schema.optionalWith(Schema.String, { nullable: true })
})
export type EvaluationCriterionResult = typeof EvaluationCriterionResult.Type

/** The agent's own analysis of the call, which the default grader turns into a scorecard. */
export const PostCallAnalysis = Schema.Struct({
  call_successful: Schema.optionalWith(Schema.String, { nullable: true }),
  transcript_summary: Schema.optionalWith(Schema.String, { nullable: true }),
  evaluation_criteria_results: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: EvaluationCriterionResult }),
    { nullable: true, default: () => ({}) }
  ),
  data_collection_results: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: DataCollectionResult }),
    { nullable: true, default: () => ({}) }
  )
})
export type PostCallAnalysis = typeof PostCallAnalysis.Type

/**
 * A Unix time in seconds between 2000 and 2100. Wider values cannot be a
 * call's time, and would turn into timestamps outside the ISO 8601 form that
 * deliveries promise.
 */
const UnixSeconds = Schema.Number.pipe(Schema.between(946_684_800, 4_102_444_800)).annotations({
  description: "Unix time in seconds, between 2000-01-01 and 2100-01-01"
})

/** Call timing sent by ElevenLabs, in Unix seconds and seconds. */
export const PostCallMetadata = Schema.Struct({
  start_time_unix_secs: Schema.optionalWith(UnixSeconds, { nullable: true }),
  call_duration_secs: Schema.optionalWith(
    Schema.Number.pipe(Schema.between(0, 86_400)).annotations({ description: "Call length in seconds, at most one day" }),
    { nullable: true }
  )
})

/** The variables the practice call handed to the agent, echoed back after the call. */
export const ConversationInitiationClientData = Schema.Struct({
  dynamic_variables: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: JsonValue }),
    { nullable: true, default: () => ({}) }
  )
})

/** A `post_call_transcription` webhook body. */
export const PostCallTranscription = Schema.Struct({
  type: Schema.Literal("post_call_transcription"),
  event_timestamp: Schema.optionalWith(UnixSeconds, { nullable: true }),
  data: Schema.Struct({
    agent_id: Schema.optionalWith(Schema.String, { nullable: true }),
    conversation_id: Schema.String,
    status: Schema.optionalWith(Schema.String, { nullable: true }),
    transcript: Schema.Array(TranscriptTurn),
    metadata: Schema.optionalWith(PostCallMetadata, { nullable: true }),
    analysis: PostCallAnalysis,
    conversation_initiation_client_data: Schema.optionalWith(ConversationInitiationClientData, { nullable: true })
  })
}).annotations({
  identifier: "ElevenLabsPostCallWebhook",
  description: "ElevenLabs post-call webhook. Only type post_call_transcription is processed, and other types are ignored."
})
export type PostCallTranscription = typeof PostCallTranscription.Type

/** The part of every ElevenLabs webhook body that decides whether it is processed. */
const WebhookEnvelope = Schema.Struct({ type: Schema.String })

/** Problem with a body that is not JSON or lacks a required field. `field` is the dotted path of the first problem. */
export interface PayloadProblem {
  readonly field: string | undefined
  readonly message: string
}

/** The outcome of reading a webhook body: a post-call transcription, another type to ignore, or a problem. */
export type ParsedWebhook =
  | { readonly _tag: "PostCall"; readonly payload: PostCallTranscription }
  | { readonly _tag: "OtherType"; readonly type: string }
  | { readonly _tag: "Invalid"; readonly problem: PayloadProblem }

const describeParseError = (error: ParseResult.ParseError): PayloadProblem => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return { field: undefined, message: "The webhook body does not match the post-call schema." }
  const field = issue.path.map(String).join(".")
  const detail = issue._tag === "Missing" ? "is missing" : `is invalid: ${issue.message}`
  return field === ""
    ? { field: undefined, message: `The webhook body ${detail}.` }
    : { field, message: `The webhook field ${field} ${detail}.` }
}

/** Parses a webhook body from its raw text: JSON first, then the `type`, then the post-call schema. */
export const parseWebhookBody = (text: string): ParsedWebhook => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { _tag: "Invalid", problem: { field: undefined, message: "The webhook body is not valid JSON." } }
  }

  const envelope = Schema.decodeUnknownEither(WebhookEnvelope)(json)
  if (Either.isLeft(envelope)) return { _tag: "Invalid", problem: describeParseError(envelope.left) }
  if (envelope.right.type !== "post_call_transcription") return { _tag: "OtherType", type: envelope.right.type }

  const payload = Schema.decodeUnknownEither(PostCallTranscription)(json, { errors: "first" })
  return Either.isLeft(payload)
    ? { _tag: "Invalid", problem: describeParseError(payload.left) }
    : { _tag: "PostCall", payload: payload.right }
}

/** Returns the practice session id the call carried in its echoed dynamic variables, if any. */
export const sessionIdOf = (payload: PostCallTranscription): string | undefined => {
  const value = payload.data.conversation_initiation_client_data?.dynamic_variables.saleslab_session_id
  return typeof value === "string" && value !== "" ? value : undefined
}

/** Returns the company id the call carried in its echoed dynamic variables, if any. */
export const companyIdOf = (payload: PostCallTranscription): string | undefined => {
  const value = payload.data.conversation_initiation_client_data?.dynamic_variables.saleslab_company_id
  return typeof value === "string" && value !== "" ? value : undefined
}

/**
 * When the call ended: start time plus duration from the metadata when both
 * are present, else the webhook's `event_timestamp`, else `undefined`.
 */
export const endedAtOf = (payload: PostCallTranscription): Date | undefined => {
  const start = payload.data.metadata?.start_time_unix_secs
  const duration = payload.data.metadata?.call_duration_secs
  const fromMetadata = start !== undefined && duration !== undefined ? validDate((start + duration) * 1000) : undefined
  if (fromMetadata !== undefined) return fromMetadata
  const eventTimestamp = payload.event_timestamp
  return eventTimestamp === undefined ? undefined : validDate(eventTimestamp * 1000)
}

const validDate = (millis: number): Date | undefined => {
  const date = new Date(millis)
  return Number.isNaN(date.getTime()) ? undefined : date
}
