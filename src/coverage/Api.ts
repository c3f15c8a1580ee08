import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Unauthorized } from "../ApiErrors.ts"

/** Header that carries the Stripe webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const stripeSignatureHeader = "stripe-signature"

/** Metadata key of a Stripe subscription that names the Sales Lab user it covers. */
export const coveredUserMetadataKey = "skill_insurance_user_id"

/** The Stripe event types that can activate coverage; every other type is ignored. */
export const subscriptionEventTypes = ["customer.subscription.created", "customer.subscription.updated"] as const

/** The price of one subscription item, reduced to the fields that name the plan. */
export const StripePrice = Schema.Struct({
  nickname: Schema.optionalWith(Schema.String, { nullable: true }),
  lookup_key: Schema.optionalWith(Schema.String, { nullable: true })
})

/**
 * A Stripe subscription object, reduced to the fields this service reads.
 * Unknown fields are ignored, and optional fields sent as `null` decode like
 * absent ones.
 */
export const StripeSubscription = Schema.Struct({
  id: Schema.String.annotations({ description: "Stripe subscription id, such as sub_1PqR2sT3uV4wX5yZ." }),
  status: Schema.String.annotations({
    description: "Stripe subscription status: incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid or paused."
  }),
  metadata: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    nullable: true,
    default: () => ({})
  }).annotations({
    description: "skill_insurance_user_id names the covered Sales Lab user; plan, when present, names the plan."
  }),
  items: Schema.optionalWith(
    Schema.Struct({
      data: Schema.Array(Schema.Struct({ price: Schema.optionalWith(StripePrice, { nullable: true }) }))
    }),
    { nullable: true }
  )
}).annotations({ identifier: "StripeSubscription" })
export type StripeSubscription = typeof StripeSubscription.Type

/** A `customer.subscription.created` or `customer.subscription.updated` Stripe event. */
export const StripeSubscriptionEvent = Schema.Struct({
  id: Schema.String.annotations({ description: "Stripe event id (evt_...); a redelivered event keeps its id." }),
  type: Schema.String,
  created: Schema.Int.annotations({ description: "When Stripe created the event, in Unix seconds." }),
  data: Schema.Struct({ object: StripeSubscription })
}).annotations({
  identifier: "StripeSubscriptionEvent",
  description: "Stripe webhook event. Only customer.subscription.created and customer.subscription.updated are processed."
})
export type StripeSubscriptionEvent = typeof StripeSubscriptionEvent.Type

/** Response body of the Stripe webhook. */
export const StripeWebhookOutcome = Schema.Union(
  Schema.Struct({
    status: Schema.Literal("processed"),
    stripe_subscription_id: Schema.String,
    subscription_status: Schema.String,
    activated: Schema.Boolean.annotations({
      description: "Whether this event moved the subscription to active and emitted coverage.subscription_activated."
    })
  }),
  Schema.Struct({
    status: Schema.Literal("duplicate", "stale").annotations({
      description: "duplicate: this event id was applied before. stale: a newer event of the subscription was applied first."
    }),
    stripe_subscription_id: Schema.String
  }),
  Schema.Struct({ status: Schema.Literal("ignored") })
).annotations({ identifier: "StripeWebhookOutcome" })
export type StripeWebhookOutcome = typeof StripeWebhookOutcome.Type

/** Stripe subscription webhooks, verified by the Stripe signature instead of a bearer token. */
export class StripeWebhookApi extends HttpApiGroup.make("stripeWebhook")
  .add(
    HttpApiEndpoint.post("receive", "/api/webhooks/stripe")
      .setHeaders(Schema.Struct({
        [stripeSignatureHeader]: Schema.optional(Schema.String.annotations({
          description: "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" keyed with the endpoint's signing secret>"
        }))
      }))
      .setPayload(StripeSubscriptionEvent)
      .addSuccess(StripeWebhookOutcome)
      .addError(BadRequest)
      .addError(Unauthorized)
      .annotate(
        OpenApi.Description,
        "Records the status of a Skill Insurance subscription whose metadata names a Sales Lab user, and emits coverage.subscription_activated when it moves from paused, incomplete or never seen to active. Other event types and subscriptions without a known user are answered 200 ignored."
      )
  )
  .annotate(OpenApi.Title, "Incoming Stripe webhook")
{}
