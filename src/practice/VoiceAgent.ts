import { FetchHttpClient, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Context, Data, Effect, Layer, Option, Redacted, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"

/** The ids a practice call hands to the voice agent as dynamic variables. */
export interface ConversationRequest {
  readonly sessionId: string
  readonly companyId: string
  readonly userId: string
  readonly scenarioId: string
}

/** Failure to reach the voice agent, or an unusable response from it. */
export class VoiceAgentError extends Data.TaggedError("VoiceAgentError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const SignedUrlResponse = Schema.Struct({ signed_url: Schema.String })

/** Time the ElevenLabs API may take to return a signed URL. */
const signedUrlTimeout = "10 seconds"

/**
 * Port to the voice agent that runs practice calls. `signedConversationUrl`
 * returns a URL the browser can open a conversation with, or null when no
 * agent is configured and the client connects by other means.
 */
export class VoiceAgent extends Context.Tag("saleslab/VoiceAgent")<VoiceAgent, {
  readonly signedConversationUrl: (request: ConversationRequest) => Effect.Effect<string | null, VoiceAgentError>
}>() {
  /**
   * ElevenLabs when both `ELEVENLABS_API_KEY` and `ELEVENLABS_AGENT_ID` are
   * set, otherwise an agent that returns no URL.
   */
  static readonly layer = Layer.unwrapEffect(
    Effect.map(AppConfig, (config) =>
      Option.isSome(config.elevenLabsApiKey) && Option.isSome(config.elevenLabsAgentId)
        ? elevenLabsLayer(config.elevenLabsApiUrl, config.elevenLabsApiKey.value, config.elevenLabsAgentId.value)
        : VoiceAgent.layerNone)
  )

  /** An agent that never returns a signed URL. */
  static readonly layerNone = Layer.succeed(VoiceAgent, { signedConversationUrl: () => Effect.succeed(null) })

  /** A fake that records every request and returns `signedUrl`. */
  static readonly layerTest = (signedUrl: string | null, requests: Array<ConversationRequest> = []) =>
    Layer.succeed(VoiceAgent, {
      signedConversationUrl: (request) =>
        Effect.sync(() => {
          requests.push(request)
          return signedUrl
        })
    })
}

/**
 * Asks ElevenLabs for a signed conversation URL of `agentId`. The URL does
 * not carry the session: the client sends the dynamic variables when it
 * opens the conversation, and ElevenLabs echoes them in the post-call webhook.
 */
const elevenLabsLayer = (apiUrl: string, apiKey: Redacted.Redacted, agentId: string) =>
  Layer.effect(
    VoiceAgent,
    Effect.gen(function*() {
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
      const request = HttpClientRequest.get(`${apiUrl}/v1/convai/conversation/get-signed-url`, {
        urlParams: { agent_id: agentId },
        headers: { "xi-api-key": Redacted.value(apiKey) },
        acceptJson: true
      })

      const signedConversationUrl = (conversation: ConversationRequest) =>
        client.execute(request).pipe(
          Effect.flatMap(HttpClientResponse.schemaBodyJson(SignedUrlResponse)),
          Effect.map((body): string | null => body.signed_url),
          Effect.scoped,
          Effect.timeout(signedUrlTimeout),
          Effect.mapError((cause) =>
            new VoiceAgentError({ message: "ElevenLabs did not return a signed conversation URL.", cause })
          ),
          Effect.withSpan("VoiceAgent.signedConversationUrl", {
            attributes: { sessionId: conversation.sessionId, agentId }
          })
        )

      return { signedConversationUrl }
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))
