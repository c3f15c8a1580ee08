import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { requestTimeoutMs, type StartedCall } from "./api.ts"

/** Sample ElevenLabs `post_call_transcription` body that the tests also use. */
export const fixturePath = fileURLToPath(new URL("../../test/fixtures/elevenlabs-post-call.json", import.meta.url))

type PostCallBody = {
  data: {
    conversation_id: string
    conversation_initiation_client_data?: { dynamic_variables?: Record<string, unknown> } | null
    metadata?: { start_time_unix_secs?: number; call_duration_secs?: number } | null
    analysis?: { data_collection_results?: Record<string, { value?: unknown }> } | null
  }
}

/** Changes that `postCallBodyFor` makes to the sample besides the call's own ids. */
export interface PostCallChanges {
  /** When the call ended (to the second), which becomes the session's `ended_at`. */
  readonly endedAt?: Date
  /** The agent's `overall_score` data-collection result, 0 to 100, which the scorecard takes. */
  readonly overallScore?: number
}

/** Reads the sample post-call body, whose dynamic variables are `{{...}}` placeholders. */
export const loadPostCallSample = (): unknown => JSON.parse(readFileSync(fixturePath, "utf8"))

/**
 * Returns the raw body of a post-call webhook for one practice call: the
 * sample with the call's dynamic variables in place of the sample's, and a
 * conversation id of its own, so that every call is distinct. `changes`
 * can move the call's start time so that it ends at `endedAt`, and replace
 * the overall score. Otherwise the sample's times and scores stay.
 */
export const postCallBodyFor = (sample: unknown, call: StartedCall, changes: PostCallChanges = {}): string => {
  const { endedAt, overallScore } = changes
  const body = structuredClone(sample) as PostCallBody
  const clientData = body.data.conversation_initiation_client_data ?? {}
  clientData.dynamic_variables = { ...clientData.dynamic_variables, ...call.dynamicVariables }
  body.data.conversation_initiation_client_data = clientData
  body.data.conversation_id = `conv_${call.sessionId.replace(/-/g, "")}`
  if (endedAt !== undefined) {
    const metadata = body.data.metadata ?? {}
    const durationSeconds = metadata.call_duration_secs ?? 0
    metadata.start_time_unix_secs = Math.floor(endedAt.getTime() / 1000) - durationSeconds
    body.data.metadata = metadata
  }
  const overallScoreResult = body.data.analysis?.data_collection_results?.overall_score
  if (overallScore !== undefined && overallScoreResult !== undefined) overallScoreResult.value = overallScore
  return JSON.stringify(body)
}

/**
 * Returns the `ElevenLabs-Signature` header for `body`: `t=<unix seconds>,v0=`
 * and the hex HMAC-SHA256 of `"<t>.<body>"` keyed with `secret`.
 */
export const signPostCall = (secret: string, body: string, unixSeconds = Math.floor(Date.now() / 1000)): string => {
  const digest = createHmac("sha256", secret).update(`${unixSeconds}.${body}`, "utf8").digest("hex")
  return `t=${unixSeconds},v0=${digest}`
}

/** Posts a signed post-call webhook to `/api/webhooks/elevenlabs` and returns the status and body. */
export const postSignedPostCall = async (
  baseUrl: string,
  secret: string,
  body: string
): Promise<{ readonly status: number; readonly text: string }> => {
  const response = await fetch(new URL("/api/webhooks/elevenlabs", baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json", "elevenlabs-signature": signPostCall(secret, body) },
    body,
    signal: AbortSignal.timeout(requestTimeoutMs)
  })
  return { status: response.status, text: await response.text() }
}
