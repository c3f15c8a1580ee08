import { Clock, Effect, Option, Redacted } from "effect"
import Stripe from "stripe"
import { BadRequest, Unauthorized } from "../ApiErrors.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import type { StripeWebhookOutcome } from "./Api.ts"
import { CoverageActivations } from "./CoverageActivations.ts"
import { parseStripeEvent } from "./SubscriptionChange.ts"

/**
 * Stands in for `STRIPE_API_KEY` when it is unset. The client only verifies
 * and parses webhooks, which needs no API call, so the key is never sent.
 */
const placeholderApiKey = "sk_unset_no_stripe_api_calls"

const rejected = new Unauthorized({
  message: "The Stripe-Signature header is missing, invalid or expired. Check the endpoint's signing secret."
})

/**
 * Receives Stripe webhooks. It verifies the signature over the raw body bytes
 * with `stripe.webhooks.constructEvent`, which in stripe-node 23 also rejects
 * a signature more than 300 seconds old. Subscription events that name a
 * covered user then go to `CoverageActivations`. Nothing is read or written
 * before the signature is verified, and without `STRIPE_WEBHOOK_SECRET` every
 * webhook is rejected.
 */
export class StripeWebhook extends Effect.Service<StripeWebhook>()("saleslab/StripeWebhook", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const activations = yield* CoverageActivations
    const stripe = new Stripe(Option.match(config.stripeApiKey, {
      onNone: () => placeholderApiKey,
      onSome: Redacted.value
    }))

    const verify = (secret: string, signature: string, body: Uint8Array, receivedAtMillis: number) =>
      Effect.try({
        try: () => stripe.webhooks.constructEvent(body, signature, secret, undefined, undefined, receivedAtMillis),
        catch: (error) =>
          error instanceof Stripe.errors.StripeSignatureVerificationError
            ? rejected
            : new BadRequest({ message: "The Stripe event is not valid JSON." })
      }).pipe(
        Effect.tapError((error) =>
          error._tag === "Unauthorized"
            ? Effect.logWarning("Stripe webhook rejected: bad signature")
            : Effect.logWarning("Stripe webhook rejected: body is not JSON")
        )
      )

    const receive = (request: { readonly signature: string | undefined; readonly body: Uint8Array }) =>
      Effect.gen(function*() {
        if (Option.isNone(config.stripeWebhookSecret)) {
          yield* Effect.logWarning("Stripe webhook rejected: STRIPE_WEBHOOK_SECRET is not set")
          return yield* rejected
        }
        if (request.signature === undefined || request.signature === "") {
          yield* Effect.logWarning("Stripe webhook rejected: no signature header")
          return yield* rejected
        }
        const event = yield* verify(
          Redacted.value(config.stripeWebhookSecret.value),
          request.signature,
          request.body,
          yield* Clock.currentTimeMillis
        )

        const parsed = parseStripeEvent(event)
        switch (parsed._tag) {
          case "Invalid":
            return yield* new BadRequest(
              parsed.field === undefined
                ? { message: parsed.message }
                : { message: parsed.message, field: parsed.field }
            )
          case "Ignored":
            yield* Effect.logDebug("Stripe webhook ignored").pipe(
              Effect.annotateLogs({ stripeEventId: event.id, type: event.type, reason: parsed.reason })
            )
            return { status: "ignored" } as StripeWebhookOutcome
          case "Change":
            return yield* activations.apply(parsed.change)
        }
      }).pipe(Effect.withSpan("StripeWebhook.receive"))

    return { receive } as const
  }),
  dependencies: [CoverageActivations.Default]
}) {}
