import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { BadRequest, Conflict, NotFound } from "../ApiErrors.ts"
import { decodeCursor, invalidCursor, type Position, toPage } from "../Pagination.ts"
import type { Delivery, DeliveryAttempt, DeliveryDetail, DeliveryListParams, DeliveryStatus, SubscriptionId } from "./Api.ts"
import { Outbox } from "./Outbox.ts"
import { Subscriptions } from "./Subscriptions.ts"

/** Statuses the delivery log can be filtered by. */
export const deliveryStatusFilters = ["pending", "succeeded", "failed"] as const

/**
 * A `webhook_deliveries` row as the queries of this module select it. `pk` is
 * the bigserial primary key, as a string because it may exceed 2^53.
 * `created_at` is truncated to milliseconds, the precision of the cursor.
 */
interface DeliveryRow {
  readonly pk: string
  readonly delivery_id: string
  readonly subscription_id: string
  readonly event_kind: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly last_status_code: number | null
  readonly last_error: string | null
  readonly next_attempt_at: Date | null
  readonly created_at: Date
  readonly delivered_at: Date | null
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  delivery_id: row.delivery_id,
  subscription_id: row.subscription_id as SubscriptionId,
  event_kind: row.event_kind,
  status: row.status,
  attempts: row.attempts,
  last_status_code: row.last_status_code,
  last_error: row.last_error,
  next_attempt_at: row.next_attempt_at,
  created_at: row.created_at,
  delivered_at: row.delivered_at
})

const validateStatusFilter = (value: string): Effect.Effect<typeof deliveryStatusFilters[number], BadRequest> => {
  const status = deliveryStatusFilters.find((candidate) => candidate === value)
  return status === undefined
    ? Effect.fail(new BadRequest({
      field: "status",
      message: `status must be one of ${deliveryStatusFilters.join(", ")}, not '${value}'.`
    }))
    : Effect.succeed(status)
}

/**
 * Decodes a delivery log cursor, whose id part is the numeric primary key of
 * the last row. Up to 18 digits always fit a PostgreSQL bigint.
 */
const decodeDeliveryCursor = (cursor: string): Effect.Effect<Position, BadRequest> => {
  const position = decodeCursor(cursor, (id) => /^\d{1,18}$/.test(id))
  return position === undefined
    ? Effect.fail(invalidCursor())
    : Effect.succeed(position)
}

const deliveryNotFound = (subscriptionId: string, deliveryId: string) =>
  new NotFound({ message: `Delivery '${deliveryId}' of webhook subscription '${subscriptionId}' was not found.` })

/**
 * The delivery log of a subscription: its deliveries newest first, one
 * delivery with its body and attempts, and the retry of a failed delivery.
 * A deleted subscription or another tenant's gets the same 404 as an unknown
 * one. SQL failures are defects, for which the server responds with an opaque 500.
 */
export class DeliveryLog extends Effect.Service<DeliveryLog>()("saleslab/DeliveryLog", {
  dependencies: [Subscriptions.Default, Outbox.Default],
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const subscriptions = yield* Subscriptions
    const outbox = yield* Outbox

    const deliveryColumns = sql`
      id::text AS pk, delivery_id, subscription_id, event_kind, status, attempts, last_status_code, last_error,
      next_attempt_at, date_trunc('milliseconds', created_at) AS created_at, delivered_at`

    /**
     * Lists the deliveries of a subscription, newest first, optionally only
     * those in one status. Without a filter, cancelled deliveries are listed too.
     */
    const list = (companyId: string, subscriptionId: string, params: DeliveryListParams) =>
      Effect.gen(function*() {
        const status = params.status === undefined ? undefined : yield* validateStatusFilter(params.status)
        const position = params.cursor === undefined ? undefined : yield* decodeDeliveryCursor(params.cursor)
        yield* subscriptions.get(companyId, subscriptionId)

        // Rows are ordered by `created_at` truncated to milliseconds, so that the
        // millisecond timestamp in the cursor compares exactly with the rows.
        const rows = yield* sql<DeliveryRow>`
          SELECT ${deliveryColumns}
          FROM webhook_deliveries
          WHERE subscription_id = ${subscriptionId} AND company_id = ${companyId}
          ${status === undefined ? sql`` : sql`AND status = ${status}`}
          ${
          position === undefined
            ? sql``
            : sql`AND (date_trunc('milliseconds', created_at), id) < (${position.createdAt}, ${position.id}::bigint)`
        }
          ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC
          LIMIT ${params.limit + 1}`.pipe(Effect.orDie)
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.pk }), toDelivery)
      }).pipe(Effect.withSpan("DeliveryLog.list", { attributes: { companyId, subscriptionId } }))

    /** Returns one delivery with its stored body parsed as JSON and every attempt, by attempt number. */
    const get = (companyId: string, subscriptionId: string, deliveryId: string) =>
      Effect.gen(function*() {
        yield* subscriptions.get(companyId, subscriptionId)
        const rows = yield* sql<DeliveryRow & { readonly body: string }>`
          SELECT ${deliveryColumns}, body
          FROM webhook_deliveries
          WHERE subscription_id = ${subscriptionId} AND company_id = ${companyId} AND delivery_id = ${deliveryId}`.pipe(
          Effect.orDie
        )
        const row = rows[0]
        if (row === undefined) return yield* Effect.fail(deliveryNotFound(subscriptionId, deliveryId))

        const attempts = yield* sql<DeliveryAttempt>`
          SELECT attempt, started_at, duration_ms, status_code, response_body, error, outcome
          FROM webhook_attempts
          WHERE delivery_pk = ${row.pk}::bigint
          ORDER BY attempt`.pipe(Effect.orDie)
        // The outbox stores `JSON.stringify` output, so a body that does not parse is a bug.
        const payload: unknown = yield* Effect.try(() => JSON.parse(row.body)).pipe(Effect.orDie)

        const { attempts: _attemptCount, ...delivery } = toDelivery(row)
        const detail: DeliveryDetail = { ...delivery, payload, attempts }
        return detail
      }).pipe(Effect.withSpan("DeliveryLog.get", { attributes: { companyId, subscriptionId, deliveryId } }))

    /**
     * Queues a failed delivery again, due now, with the same delivery id and
     * body bytes. Fails with 409 naming the status of a delivery that is not failed.
     *
     * Concurrent retries of one delivery wait on an advisory lock, not on the
     * row, because the engine's claim skips locked rows. A retry that waited on
     * the row would keep it locked until its 409, and the claim would miss the
     * requeued delivery until the next sweep.
     */
    const retry = (companyId: string, subscriptionId: string, deliveryId: string) =>
      Effect.gen(function*() {
        yield* subscriptions.get(companyId, subscriptionId)
        yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${`delivery_retry:${subscriptionId}:${deliveryId}`}, 0))`
        // A second pass covers an attempt that failed between the update and the read.
        for (let pass = 1;; pass++) {
          if (yield* outbox.requeue(subscriptionId, deliveryId)) {
            yield* Effect.logInfo("Webhook delivery queued again").pipe(Effect.annotateLogs({ subscriptionId, deliveryId }))
            return { delivery_id: deliveryId }
          }
          const rows = yield* sql<{ readonly status: DeliveryStatus }>`
            SELECT status FROM webhook_deliveries
            WHERE subscription_id = ${subscriptionId} AND company_id = ${companyId} AND delivery_id = ${deliveryId}`
          const status = rows[0]?.status
          if (status === undefined) return yield* Effect.fail(deliveryNotFound(subscriptionId, deliveryId))
          if (status !== "failed" || pass === 2) {
            return yield* Effect.fail(new Conflict({
              message: `Delivery '${deliveryId}' is ${status}, but only a failed delivery can be retried.`
            }))
          }
        }
      }).pipe(
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die),
        Effect.withSpan("DeliveryLog.retry", { attributes: { companyId, subscriptionId, deliveryId } })
      )

    return { list, get, retry } as const
  })
}) {}
