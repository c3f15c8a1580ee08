import { Either, ParseResult, Schema } from "effect"
import {
  coveredUserMetadataKey,
  type StripeSubscription,
  StripeSubscriptionEvent,
  subscriptionEventTypes
} from "./Api.ts"

/** Plan recorded when neither the metadata nor the price names one. */
export const defaultPlan = "individual"

/** A verified Stripe subscription event that names a covered user. */
export interface SubscriptionChange {
  readonly eventId: string
  readonly eventType: string
  /** When Stripe created the event; orders events of one subscription. */
  readonly createdAt: Date
  readonly stripeSubscriptionId: string
  readonly status: string
  /** The value of `metadata.skill_insurance_user_id`, not yet checked against the users table. */
  readonly userId: string
  readonly plan: string
}

/** The outcome of reading a verified Stripe event. */
export type ParsedStripeEvent =
  | { readonly _tag: "Change"; readonly change: SubscriptionChange }
  | { readonly _tag: "Ignored"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly field: string | undefined; readonly message: string }

const EventEnvelope = Schema.Struct({ type: Schema.String })

const invalid = (error: ParseResult.ParseError): ParsedStripeEvent => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return { _tag: "Invalid", field: undefined, message: "The Stripe event has an invalid shape." }
  const field = issue.path.map(String).join(".")
  const detail = issue._tag === "Missing" ? "is missing" : `is invalid: ${issue.message}`
  return field === ""
    ? { _tag: "Invalid", field: undefined, message: `The Stripe event ${detail}.` }
    : { _tag: "Invalid", field, message: `The Stripe event field ${field} ${detail}.` }
}

const nonBlank = (text: string | undefined) => text !== undefined && text.trim() !== "" ? text.trim() : undefined

/** Picks the plan of a subscription: `metadata.plan`, else the first price's nickname or lookup key, else `individual`. */
export const planOf = (subscription: StripeSubscription): string => {
  const price = subscription.items?.data[0]?.price
  return nonBlank(subscription.metadata.plan) ??
    nonBlank(price?.nickname) ??
    nonBlank(price?.lookup_key) ??
    defaultPlan
}

/**
 * Reads an event that `constructEvent` has verified and parsed. Subscription
 * events without `metadata.skill_insurance_user_id` and every other event
 * type are `Ignored`; a subscription event missing a field it needs is
 * `Invalid`, naming the field.
 */
export const parseStripeEvent = (event: unknown): ParsedStripeEvent => {
  const envelope = Schema.decodeUnknownEither(EventEnvelope)(event)
  if (Either.isLeft(envelope)) return invalid(envelope.left)
  if (!(subscriptionEventTypes as ReadonlyArray<string>).includes(envelope.right.type)) {
    return { _tag: "Ignored", reason: "event type" }
  }

  const decoded = Schema.decodeUnknownEither(StripeSubscriptionEvent)(event, { errors: "first" })
  if (Either.isLeft(decoded)) return invalid(decoded.left)
  const subscription = decoded.right.data.object
  const userId = nonBlank(subscription.metadata[coveredUserMetadataKey])
  if (userId === undefined) return { _tag: "Ignored", reason: "no covered user" }

  return {
    _tag: "Change",
    change: {
      eventId: decoded.right.id,
      eventType: decoded.right.type,
      createdAt: new Date(decoded.right.created * 1000),
      stripeSubscriptionId: subscription.id,
      status: subscription.status,
      userId,
      plan: planOf(subscription)
    }
  }
}
