import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../ApiErrors.ts"
import { JsonValue, strictBody, strictQuery } from "../Json.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Id of a webhook subscription: `sub_` followed by 24 base62 characters. */
export const SubscriptionId = Schema.String.pipe(
  Schema.pattern(/^sub_[0-9A-Za-z]{24}$/),
  Schema.brand("SubscriptionId")
).annotations({
  identifier: "SubscriptionId",
  description: "Subscription id: sub_ followed by 24 base62 characters."
})
export type SubscriptionId = typeof SubscriptionId.Type

/**
 * State of a subscription. Only an active one receives deliveries. A paused or
 * disabled one keeps its queued deliveries pending until it is set active again.
 */
export const SubscriptionStatus = Schema.Literal("active", "paused", "disabled").annotations({
  identifier: "SubscriptionStatus"
})
export type SubscriptionStatus = typeof SubscriptionStatus.Type

/** A webhook subscription as the API returns it, without its signing secret. */
export const Subscription = Schema.Struct({
  id: SubscriptionId,
  url: Schema.String,
  event_kinds: Schema.Array(Schema.String).annotations({
    description: "Event kinds delivered to the URL. An empty list means every kind."
  }),
  description: Schema.NullOr(Schema.String),
  status: SubscriptionStatus,
  created_at: Schema.Date,
  updated_at: Schema.Date
}).annotations({ identifier: "Subscription" })
export type Subscription = typeof Subscription.Type

/** A subscription just created, with the signing secret that no later response contains. */
export const CreatedSubscription = Schema.Struct({
  ...Subscription.fields,
  secret: Schema.String.annotations({
    description: "Signing secret (sl_whsec_...). The HMAC-SHA256 key is its UTF-8 bytes. Shown only in this response."
  })
}).annotations({ identifier: "CreatedSubscription" })
export type CreatedSubscription = typeof CreatedSubscription.Type

/** Description of the `url` field: the URLs that `validateUrl` accepts. */
const subscriptionUrlDescription =
  "Absolute http or https URL written with two slashes and a host, such as https://example.com/hook, at most 2048 characters, " +
  "without spaces, control characters, backslashes or credentials, on a public address unless the service allows private targets."

/**
 * Body of `POST /v1/webhooks`. The schema checks only the JSON types. The
 * service validates the URL, the event kinds and the description length, so
 * that a 400 names the field in a plain sentence.
 */
export const CreateSubscription = Schema.Struct({
  url: Schema.String.annotations({ description: subscriptionUrlDescription }),
  event_kinds: Schema.optional(Schema.Array(Schema.String).annotations({
    description: "Event kinds to receive. Empty or absent means every kind."
  })),
  description: Schema.optional(Schema.NullOr(Schema.String).annotations({
    description: "Free text for people, at most 500 characters."
  }))
}).annotations({ identifier: "CreateSubscription" })
export type CreateSubscription = typeof CreateSubscription.Type

/** Body of `PATCH /v1/webhooks/{id}`. Every field is optional, and absent fields keep their value. */
export const UpdateSubscription = Schema.Struct({
  url: Schema.optional(Schema.String.annotations({ description: subscriptionUrlDescription })),
  event_kinds: Schema.optional(Schema.Array(Schema.String).annotations({
    description: "Event kinds to receive. An empty list means every kind."
  })),
  description: Schema.optional(Schema.NullOr(Schema.String).annotations({
    description: "Free text for people, at most 500 characters. Null clears it."
  })),
  status: Schema.optional(Schema.String.annotations({
    description: "active or paused. Setting active sends the deliveries that waited while paused."
  }))
}).annotations({ identifier: "UpdateSubscription" })
export type UpdateSubscription = typeof UpdateSubscription.Type

/** State of a delivery. `cancelled` deliveries belonged to a deleted subscription. */
export const DeliveryStatus = Schema.Literal("pending", "succeeded", "failed", "cancelled").annotations({
  identifier: "DeliveryStatus"
})
export type DeliveryStatus = typeof DeliveryStatus.Type

const deliveryFields = {
  delivery_id: Schema.String.annotations({
    description: "Delivery id, also sent as x-saleslab-delivery-id. Retries keep it unchanged."
  }),
  subscription_id: SubscriptionId,
  event_kind: Schema.String,
  status: DeliveryStatus,
  last_status_code: Schema.NullOr(Schema.Int),
  last_error: Schema.NullOr(Schema.String),
  next_attempt_at: Schema.NullOr(Schema.Date),
  created_at: Schema.Date,
  delivered_at: Schema.NullOr(Schema.Date)
}

/** One delivery of one event to one subscription, as listed in the delivery log. */
export const Delivery = Schema.Struct({
  ...deliveryFields,
  attempts: Schema.Int.annotations({ description: "Number of attempts made so far." })
}).annotations({ identifier: "Delivery" })
export type Delivery = typeof Delivery.Type

/** One HTTP attempt of a delivery. */
export const DeliveryAttempt = Schema.Struct({
  attempt: Schema.Int.annotations({ description: "Attempt number, from 1." }),
  started_at: Schema.Date,
  duration_ms: Schema.Int,
  status_code: Schema.NullOr(Schema.Int),
  response_body: Schema.NullOr(Schema.String).annotations({ description: "Response body, truncated to 4 KiB." }),
  error: Schema.NullOr(Schema.String),
  outcome: Schema.Literal("succeeded", "retry", "failed")
}).annotations({ identifier: "DeliveryAttempt" })
export type DeliveryAttempt = typeof DeliveryAttempt.Type

/** One delivery with the JSON body it sends and every attempt so far, oldest first. */
export const DeliveryDetail = Schema.Struct({
  ...deliveryFields,
  payload: JsonValue.annotations({ description: "The JSON body sent on every attempt." }),
  attempts: Schema.Array(DeliveryAttempt)
}).annotations({ identifier: "DeliveryDetail" })
export type DeliveryDetail = typeof DeliveryDetail.Type

/** Body returned by the routes that queue a delivery. */
export const QueuedDelivery = Schema.Struct({ delivery_id: Schema.String }).annotations({
  identifier: "QueuedDelivery"
})

/** Query of the delivery log: the list parameters and an optional status filter. */
export const DeliveryListParams = Schema.Struct({
  ...ListParams.fields,
  status: Schema.optional(Schema.String.annotations({
    description: "Only deliveries in this state: pending, succeeded or failed."
  }))
})
export type DeliveryListParams = typeof DeliveryListParams.Type

const subscriptionPath = Schema.Struct({ id: Schema.String })
const deliveryPath = Schema.Struct({ id: Schema.String, delivery_id: Schema.String })

/**
 * Outbound webhook subscriptions of the current tenant and their delivery
 * log. Every route needs the `admin` scope. An unknown or deleted id and
 * another tenant's id return the same 404.
 */
export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("create", "/v1/webhooks")
      .setPayload(strictBody(CreateSubscription))
      .addSuccess(CreatedSubscription, { status: 201 })
      .addError(BadRequest)
      .annotate(OpenApi.Description, "Creates a subscription. The response carries the signing secret, shown only once.")
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/webhooks")
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(Subscription))
      .addError(BadRequest)
      .annotate(OpenApi.Description, "Lists the subscriptions, newest first.")
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/webhooks/:id")
      .setPath(subscriptionPath)
      .addSuccess(Subscription)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.patch("update", "/v1/webhooks/:id")
      .setPath(subscriptionPath)
      .setPayload(strictBody(UpdateSubscription))
      .addSuccess(Subscription)
      .addError(BadRequest)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Changes the URL, event kinds, description or status (active or paused).")
  )
  .add(
    HttpApiEndpoint.del("remove", "/v1/webhooks/:id")
      .setPath(subscriptionPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Deletes the subscription and cancels its pending deliveries.")
  )
  .add(
    HttpApiEndpoint.post("sendTest", "/v1/webhooks/:id/test")
      .setPath(subscriptionPath)
      .addSuccess(QueuedDelivery, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Queues a synthetic session.scorecard_finalized event for this subscription only. Fails with 409 unless it is active."
      )
  )
  .add(
    HttpApiEndpoint.get("listDeliveries", "/v1/webhooks/:id/deliveries")
      .setPath(subscriptionPath)
      .setUrlParams(strictQuery(DeliveryListParams))
      .addSuccess(Page(Delivery))
      .addError(BadRequest)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Lists the deliveries of the subscription, newest first.")
  )
  .add(
    HttpApiEndpoint.get("getDelivery", "/v1/webhooks/:id/deliveries/:delivery_id")
      .setPath(deliveryPath)
      .addSuccess(DeliveryDetail)
      .addError(NotFound)
      .annotate(OpenApi.Description, "One delivery with its JSON body and every attempt.")
  )
  .add(
    HttpApiEndpoint.post("retryDelivery", "/v1/webhooks/:id/deliveries/:delivery_id/retry")
      .setPath(deliveryPath)
      .addSuccess(QueuedDelivery, { status: 202 })
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Queues a failed delivery again, now, with the same delivery id and body. Fails with 409 unless it failed."
      )
  )
  .addError(Forbidden)
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Outbound webhook subscriptions and their delivery log. Every route needs the admin scope.")
{}
