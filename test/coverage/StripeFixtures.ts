import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import Stripe from "stripe"
import { randomBase62 } from "../../src/platform/Secrets.ts"
import { TestServerUrl } from "../support/TestServer.ts"

/** Stripe webhook signing secret configured on the coverage test servers. */
export const testStripeSecret = "whsec_test_coverage_0123456789abcdef"

/** A Stripe client used only to sign test payloads offline; it makes no API call. */
const stripe = new Stripe("sk_test_offline_signing_only")

/** A fresh Stripe-like subscription id. */
export const newStripeSubscriptionId = () => `sub_${randomBase62(14)}`

let eventCounter = 0

/** A fresh Stripe-like event id. */
export const newStripeEventId = () => `evt_${randomBase62(14)}${++eventCounter}`

/** The parts of a Stripe subscription event that tests vary. */
export interface SubscriptionEventOptions {
  readonly subscriptionId: string
  readonly status: string
  /** `created` of the event, in Unix seconds. */
  readonly created: number
  readonly type?: string
  readonly eventId?: string
  /** Sets `metadata.skill_insurance_user_id`; omitted when undefined. */
  readonly userId?: string | undefined
  readonly metadata?: Readonly<Record<string, string>>
  readonly price?: { readonly nickname: string | null; readonly lookup_key: string | null }
}

/** Builds the JSON text of a Stripe subscription event, shaped as Stripe sends it. */
export const subscriptionEvent = (options: SubscriptionEventOptions) => {
  const metadata: Record<string, string> = { ...options.metadata }
  if (options.userId !== undefined) metadata.skill_insurance_user_id = options.userId
  return JSON.stringify({
    id: options.eventId ?? newStripeEventId(),
    object: "event",
    api_version: "2026-02-25.clover",
    created: options.created,
    type: options.type ?? "customer.subscription.updated",
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object: {
        id: options.subscriptionId,
        object: "subscription",
        customer: "cus_RbX2k9LmQ4rT7v",
        status: options.status,
        metadata,
        items: {
          object: "list",
          data: [{
            id: "si_Qw3eR5tY7uI9oP",
            object: "subscription_item",
            price: {
              id: "price_1PqR2sT3uV4wX5yZ",
              object: "price",
              nickname: options.price?.nickname ?? null,
              lookup_key: options.price?.lookup_key ?? null,
              unit_amount: 1900,
              currency: "usd"
            }
          }]
        }
      }
    }
  })
}

/** Signs `payload` as Stripe would, `ageSeconds` before the current (test) time. */
export const signStripe = (payload: string, ageSeconds = 2, secret = testStripeSecret) =>
  Effect.map(Clock.currentTimeMillis, (now) =>
    stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Math.floor(now / 1000) - ageSeconds }))

/** Posts a raw body to the Stripe webhook route and returns the status and the parsed JSON body. */
export const postStripe = (body: string, signature: string | undefined) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    let request = HttpClientRequest.post(`${baseUrl}/api/webhooks/stripe`).pipe(
      HttpClientRequest.bodyText(body, "application/json")
    )
    if (signature !== undefined) request = HttpClientRequest.setHeader(request, "stripe-signature", signature)
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    return { status: response.status, body: text === "" ? null : JSON.parse(text) as Record<string, any> }
  }).pipe(Effect.provide(FetchHttpClient.layer))

/** Signs `body` now and posts it to the Stripe webhook route. */
export const sendStripe = (body: string) => Effect.flatMap(signStripe(body), (signature) => postStripe(body, signature))

/** Numbers of rows the Stripe webhook writes, for checking that a request wrote nothing. */
export const coverageRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ subscriptions: number; stripeEvents: number; events: number; deliveries: number }>`
    SELECT
      (SELECT count(*)::int FROM coverage_subscriptions) AS "subscriptions",
      (SELECT count(*)::int FROM stripe_events) AS "stripeEvents",
      (SELECT count(*)::int FROM events) AS "events",
      (SELECT count(*)::int FROM webhook_deliveries) AS "deliveries"`
  return row!
})

/** The stored state of one Stripe subscription, or undefined when none is stored. */
export const storedSubscription = (stripeSubscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ company_id: string; user_id: string; plan: string; status: string; last_event_created: Date }>`
      SELECT company_id, user_id, plan, status, last_event_created FROM coverage_subscriptions
      WHERE stripe_subscription_id = ${stripeSubscriptionId}`).pipe(Effect.map((rows) => rows[0]))

/** The deliveries queued for one webhook subscription, oldest first. */
export const deliveriesOf = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; body: string; company_id: string }>`
      SELECT delivery_id, event_kind, body, company_id FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`)
