import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { BadRequest } from "../ApiErrors.ts"
import { SalesLabApi } from "../Api.ts"
import { Events } from "../events/Events.ts"
import { sqlErrorsAsInternal } from "../platform/SqlErrors.ts"
import { stripeSignatureHeader } from "./Api.ts"
import { StripeWebhook } from "./StripeWebhook.ts"

const hideSqlErrors = sqlErrorsAsInternal("Coverage query failed")

/**
 * The handler reads the raw body instead of the decoded payload, because the
 * Stripe signature covers the exact bytes Stripe sent.
 */
const StripeWebhookHttp = HttpApiBuilder.group(SalesLabApi, "stripeWebhook", (handlers) =>
  Effect.gen(function*() {
    const webhook = yield* StripeWebhook
    return handlers.handleRaw("receive", ({ headers, request }) =>
      request.arrayBuffer.pipe(
        Effect.mapError(() => new BadRequest({ message: "The request body could not be read." })),
        Effect.flatMap((body) =>
          webhook.receive({ signature: headers[stripeSignatureHeader], body: new Uint8Array(body) })
        ),
        hideSqlErrors
      ))
  }))

/** Handler of the Stripe webhook route with the services behind it. Needs `AppConfig` and `SqlClient`. */
export const CoverageHttpLive = StripeWebhookHttp.pipe(
  Layer.provide(StripeWebhook.Default),
  Layer.provide(Events.Default)
)
