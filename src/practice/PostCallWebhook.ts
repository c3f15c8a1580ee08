import { Clock, Effect, Option, Redacted } from "effect"
import { BadRequest, Unauthorized } from "../ApiErrors.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import type { PostCallOutcome } from "./Api.ts"
import { verifyElevenLabsSignature } from "./ElevenLabsSignature.ts"
import { parseWebhookBody } from "./PostCallPayload.ts"
import { SessionCompletion } from "./SessionCompletion.ts"

const rejected = new Unauthorized({
  message: "The ElevenLabs-Signature header is missing, invalid or expired. Check the webhook secret and the clock."
})

/**
 * Receives ElevenLabs webhooks: verifies the signature over the raw body
 * bytes, parses the body and hands post-call transcriptions to
 * `SessionCompletion`. Nothing is read or written before the signature is
 * verified, and without `ELEVENLABS_WEBHOOK_SECRET` every webhook is rejected.
 */
export class PostCallWebhook extends Effect.Service<PostCallWebhook>()("saleslab/PostCallWebhook", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const completion = yield* SessionCompletion

    const receive = (request: { readonly signature: string | undefined; readonly body: Uint8Array }) =>
      Effect.gen(function*() {
        if (Option.isNone(config.elevenLabsWebhookSecret)) {
          yield* Effect.logWarning("ElevenLabs webhook rejected: ELEVENLABS_WEBHOOK_SECRET is not set")
          return yield* rejected
        }
        const rejection = verifyElevenLabsSignature({
          secret: Redacted.value(config.elevenLabsWebhookSecret.value),
          header: request.signature,
          body: request.body,
          nowMillis: yield* Clock.currentTimeMillis
        })
        if (rejection !== undefined) {
          yield* Effect.logWarning("ElevenLabs webhook rejected: bad signature").pipe(
            Effect.annotateLogs({ reason: rejection })
          )
          return yield* rejected
        }

        const parsed = parseWebhookBody(Buffer.from(request.body).toString("utf8"))
        switch (parsed._tag) {
          case "Invalid":
            return yield* new BadRequest(
              parsed.problem.field === undefined
                ? { message: parsed.problem.message }
                : { message: parsed.problem.message, field: parsed.problem.field }
            )
          case "OtherType":
            yield* Effect.logDebug("ElevenLabs webhook ignored: not a post-call transcription").pipe(
              Effect.annotateLogs({ type: parsed.type })
            )
            return { status: "ignored" } satisfies PostCallOutcome as PostCallOutcome
          case "PostCall":
            return yield* completion.complete(parsed.payload)
        }
      }).pipe(Effect.withSpan("PostCallWebhook.receive"))

    return { receive } as const
  }),
  dependencies: [SessionCompletion.Default]
}) {}
