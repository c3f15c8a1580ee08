import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { withSpanWhenTracing } from "../platform/Spans.ts"
import { DeliveryChannel } from "./DeliveryChannel.ts"

/**
 * Prefix of a notification on the delivery channel that announces a change to a
 * subscription's URL or status, followed by its id. A plain subscription id
 * announces due deliveries.
 */
export const subscriptionChangePrefix = "changed:"

/** An event to publish to the matching subscriptions of one tenant. */
export interface PublishedEvent {
  /** Tenant whose subscriptions receive the event. */
  readonly companyId: string
  /** Event kind, such as `session.completed`. */
  readonly kind: string
  /** Key of the event within its kind and tenant; publishing the same key again is a no-op. */
  readonly naturalKey: string
  /** When the event happened. */
  readonly occurredAt: Date
  /** Delivery id of the event for one subscription. */
  readonly deliveryId: (subscriptionId: string) => string
  /** JSON payload sent to one subscription, which carries its delivery id. */
  readonly payload: (deliveryId: string) => unknown
}

/** An event sent to every tenant that has a matching active subscription. */
export interface BroadcastEvent {
  readonly kind: string
  /** Key of the event within its kind; broadcasting the same key again is a no-op for every tenant. */
  readonly naturalKey: string
  readonly occurredAt: Date
  readonly deliveryId: (subscriptionId: string) => string
  /** JSON payload for one subscription, which carries the recipient tenant's id. */
  readonly payload: (companyId: string, deliveryId: string) => unknown
}

/** Rows written by one INSERT: well below PostgreSQL's limit of 65,535 parameters at nine columns a row. */
const insertChunkSize = 1_000

/** A single delivery queued for one subscription, outside of any event (test events). */
export interface DirectDelivery {
  readonly subscriptionId: string
  readonly companyId: string
  readonly kind: string
  readonly deliveryId: string
  readonly payload: unknown
}

/**
 * The transactional outbox: writes `webhook_deliveries` rows with the exact
 * body bytes to send, and a `pg_notify` that wakes the dispatcher once the
 * surrounding transaction commits. Run it inside the transaction of the
 * domain write that causes the event, so both commit or neither does.
 */
export class Outbox extends Effect.Service<Outbox>()("saleslab/Outbox", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { name: deliveryChannel } = yield* DeliveryChannel

    const notify = (subscriptionIds: ReadonlyArray<string>) =>
      subscriptionIds.length === 0
        ? Effect.void
        : sql`SELECT pg_notify(${deliveryChannel}, id) FROM webhook_subscriptions WHERE id IN ${
          sql.in([...new Set(subscriptionIds)])
        }`.pipe(Effect.asVoid)

    /**
     * Records the event and queues one delivery per active subscription of the
     * tenant whose filter matches. Returns the number of deliveries queued,
     * 0 when the event was already published.
     */
    const publish = (event: PublishedEvent) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        // One statement records the event and finds its subscriptions: no
        // row when the event was already published, and one row without a
        // subscription when no subscription matches.
        const matched = yield* sql<{ event_id: string; subscription_id: string | null }>`
          WITH inserted AS (
            INSERT INTO events (id, company_id, kind, natural_key, occurred_at)
            VALUES (${randomUUID()}, ${event.companyId}, ${event.kind}, ${event.naturalKey}, ${event.occurredAt})
            ON CONFLICT (company_id, kind, natural_key) DO NOTHING
            RETURNING id
          )
          SELECT inserted.id AS event_id, s.id AS subscription_id
          FROM inserted
          LEFT JOIN webhook_subscriptions s
            ON s.company_id = ${event.companyId}
            AND s.status = 'active'
            AND s.deleted_at IS NULL
            AND (cardinality(s.event_kinds) = 0 OR ${event.kind} = ANY(s.event_kinds))`
        const eventId = matched[0]?.event_id
        if (eventId === undefined) return 0
        const subscriptions = matched.flatMap(({ subscription_id }) => subscription_id === null ? [] : [{ id: subscription_id }])
        if (subscriptions.length === 0) return 0

        const rows = subscriptions.map(({ id }) => {
          const deliveryId = event.deliveryId(id)
          return {
            delivery_id: deliveryId,
            subscription_id: id,
            company_id: event.companyId,
            event_id: eventId,
            event_kind: event.kind,
            body: JSON.stringify(event.payload(deliveryId)),
            status: "pending",
            next_attempt_at: now,
            event_at: event.occurredAt
          }
        })
        // The same statement queues the deliveries and notifies each of
        // their subscriptions once.
        const queued = yield* sql<{ subscription_id: string; deliveries: number }>`
          WITH queued AS (
            INSERT INTO webhook_deliveries ${sql.insert(rows)}
            ON CONFLICT (subscription_id, delivery_id) DO NOTHING
            RETURNING subscription_id
          )
          SELECT subscription_id, count(*)::int AS deliveries, pg_notify(${deliveryChannel}, subscription_id)
          FROM queued
          GROUP BY subscription_id`
        return queued.reduce((total, row) => total + row.deliveries, 0)
      }).pipe(withSpanWhenTracing("Outbox.publish", { attributes: { kind: event.kind, companyId: event.companyId } }))

    /**
     * Records the event once per receiving tenant and queues one delivery per
     * matching active subscription of every tenant, each payload carrying its
     * recipient's company id. Returns the number of deliveries queued; a
     * tenant that already has the event gets nothing new.
     */
    const broadcast = (event: BroadcastEvent) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const subscriptions = yield* sql<{ id: string; company_id: string }>`
          SELECT id, company_id FROM webhook_subscriptions
          WHERE status = 'active'
            AND deleted_at IS NULL
            AND (cardinality(event_kinds) = 0 OR ${event.kind} = ANY(event_kinds))
          ORDER BY company_id, id`
        const companyIds = [...new Set(subscriptions.map((subscription) => subscription.company_id))]

        const eventIds = new Map<string, string>()
        for (let start = 0; start < companyIds.length; start += insertChunkSize) {
          const rows = companyIds.slice(start, start + insertChunkSize).map((companyId) => ({
            id: randomUUID(),
            company_id: companyId,
            kind: event.kind,
            natural_key: event.naturalKey,
            occurred_at: event.occurredAt
          }))
          const inserted = yield* sql<{ id: string; company_id: string }>`
            INSERT INTO events ${sql.insert(rows)}
            ON CONFLICT (company_id, kind, natural_key) DO NOTHING
            RETURNING id, company_id`
          for (const row of inserted) eventIds.set(row.company_id, row.id)
        }

        const rows = subscriptions.flatMap(({ id, company_id }) => {
          const eventId = eventIds.get(company_id)
          if (eventId === undefined) return []
          const deliveryId = event.deliveryId(id)
          return [{
            delivery_id: deliveryId,
            subscription_id: id,
            company_id,
            event_id: eventId,
            event_kind: event.kind,
            body: JSON.stringify(event.payload(company_id, deliveryId)),
            status: "pending",
            next_attempt_at: now,
            event_at: event.occurredAt
          }]
        })
        let queued = 0
        for (let start = 0; start < rows.length; start += insertChunkSize) {
          const inserted = yield* sql<{ subscription_id: string }>`
            INSERT INTO webhook_deliveries ${sql.insert(rows.slice(start, start + insertChunkSize))}
            ON CONFLICT (subscription_id, delivery_id) DO NOTHING
            RETURNING subscription_id`
          yield* notify(inserted.map((row) => row.subscription_id))
          queued += inserted.length
        }
        return queued
      }).pipe(withSpanWhenTracing("Outbox.broadcast", { attributes: { kind: event.kind } }))

    /** Queues one delivery for one subscription; false when that delivery id already exists. */
    const enqueue = (delivery: DirectDelivery) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const queued = yield* sql`
          INSERT INTO webhook_deliveries ${
          sql.insert({
            delivery_id: delivery.deliveryId,
            subscription_id: delivery.subscriptionId,
            company_id: delivery.companyId,
            event_kind: delivery.kind,
            body: JSON.stringify(delivery.payload),
            status: "pending",
            next_attempt_at: now,
            event_at: now
          })
        }
          ON CONFLICT (subscription_id, delivery_id) DO NOTHING
          RETURNING id`
        yield* notify(queued.length > 0 ? [delivery.subscriptionId] : [])
        return queued.length > 0
      }).pipe(withSpanWhenTracing("Outbox.enqueue", {
        attributes: { "webhook.subscription_id": delivery.subscriptionId, "webhook.delivery_id": delivery.deliveryId }
      }))

    /**
     * Queues a failed delivery again, due now, with its stored body and delivery
     * id unchanged. Returns false when the delivery is not in the failed state.
     */
    const requeue = (subscriptionId: string, deliveryId: string) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const updated = yield* sql`
          UPDATE webhook_deliveries
          SET status = 'pending', next_attempt_at = ${now}, claimed_until = NULL
          WHERE subscription_id = ${subscriptionId} AND delivery_id = ${deliveryId} AND status = 'failed'
          RETURNING id`
        yield* notify(updated.length > 0 ? [subscriptionId] : [])
        return updated.length > 0
      }).pipe(withSpanWhenTracing("Outbox.requeue", {
        attributes: { "webhook.subscription_id": subscriptionId, "webhook.delivery_id": deliveryId }
      }))

    /** Cancels every pending delivery of a subscription; returns how many. */
    const cancelPending = (subscriptionId: string) =>
      sql`
        UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, claimed_until = NULL
        WHERE subscription_id = ${subscriptionId} AND status = 'pending'
        RETURNING id`.pipe(
        Effect.map((rows) => rows.length),
        withSpanWhenTracing("Outbox.cancelPending", { attributes: { "webhook.subscription_id": subscriptionId } })
      )

    /** Announces that a subscription may have due deliveries, for instance after it is resumed. */
    const wake = (subscriptionId: string) => notify([subscriptionId])

    /**
     * Announces that a subscription's URL or status changed, so that the
     * runner draining it stops starting attempts from the batch it claimed
     * under the old settings. Sent inside the caller's transaction, it
     * arrives once the change commits.
     */
    const announceChange = (subscriptionId: string) =>
      sql`SELECT pg_notify(${deliveryChannel}, ${subscriptionChangePrefix + subscriptionId})`.pipe(Effect.asVoid)

    return { publish, broadcast, enqueue, requeue, cancelPending, wake, announceChange } as const
  }),
  dependencies: [DeliveryChannel.Default]
}) {}
