import { SqlClient } from "@effect/sql"
import { Duration, Effect, Metric, Option } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookRetriesScheduled } from "../platform/Metrics.ts"
import { currentDate, DeliveryClock } from "./DeliveryClock.ts"
import type { AttemptOutcome } from "./RetryPolicy.ts"

/** Deliveries claimed by one query, at most; also the batch size of a drain. */
export const claimBatchSize = 50

/**
 * Time a claim lasts past the delivery timeout. An attempt always ends within
 * the timeout and is then recorded in one short transaction, so a claim
 * outlives its attempt. A row whose runner died waits for its claim to expire
 * before another runner sends it again, which sets the recovery time after a
 * crash: the delivery timeout plus this margin.
 */
const claimMargin = Duration.seconds(10)

/** A due delivery claimed by this runner, with what is needed to send it. */
export interface ClaimedDelivery {
  /** Row key of the delivery (`webhook_deliveries.id`). */
  readonly pk: string
  readonly deliveryId: string
  readonly subscriptionId: string
  readonly eventKind: string
  /** The exact text to sign and send. */
  readonly body: string
  /** Attempts made before this claim. */
  readonly attempts: number
  readonly nextAttemptAt: Date
  /** When the event happened (`webhook_deliveries.event_at`). */
  readonly eventAt: Date
  readonly url: string
  readonly secret: string
}

/** Pending deliveries that are due now, for the queue gauges. */
export interface DueQueueStats {
  readonly depth: number
  /** `next_attempt_at` of the oldest due delivery; none when nothing is due. */
  readonly oldestDueAt: Option.Option<Date>
  /** The time the stats were taken at. */
  readonly at: Date
}

/** The record of one finished attempt. */
export interface AttemptRecord {
  readonly delivery: ClaimedDelivery
  readonly startedAt: Date
  readonly durationMs: number
  readonly statusCode: Option.Option<number>
  readonly responseBody: Option.Option<string>
  readonly error: Option.Option<string>
  readonly outcome: AttemptOutcome
  /** When the next attempt is due; some only for the `retry` outcome. */
  readonly nextAttemptAt: Option.Option<Date>
}

interface ClaimedRow {
  readonly id: string
  readonly delivery_id: string
  readonly subscription_id: string
  readonly event_kind: string
  readonly body: string
  readonly attempts: number
  readonly next_attempt_at: Date
  readonly event_at: Date
  readonly url: string
  readonly secret: string
}

/**
 * The SQL side of the delivery queue. A row is due when it is pending, its
 * `next_attempt_at` has passed, no unexpired claim covers it, and its subscription
 * is active and not deleted. "Now" comes from `DeliveryClock` and is sent as
 * a parameter, never taken from the database server's clock.
 */
export class DeliveryStore extends Effect.Service<DeliveryStore>()("saleslab/DeliveryStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const now = currentDate(yield* DeliveryClock)
    const claimDuration = Duration.sum(config.deliveryTimeout, claimMargin)

    /**
     * Claims up to `limit` due deliveries of one subscription in one statement,
     * skipping rows locked by another transaction, and returns them in the
     * order they must start: by `next_attempt_at`, then by row key.
     */
    const claimDue = (subscriptionId: string, limit: number = claimBatchSize) =>
      Effect.gen(function*() {
        const at = yield* now
        const claimedUntil = new Date(at.getTime() + Duration.toMillis(claimDuration))
        const rows = yield* sql<ClaimedRow>`
          WITH due AS (
            SELECT d.id
            FROM webhook_deliveries d
            JOIN webhook_subscriptions s ON s.id = d.subscription_id
            WHERE d.subscription_id = ${subscriptionId}
              AND d.status = 'pending'
              AND d.next_attempt_at <= ${at}
              AND (d.claimed_until IS NULL OR d.claimed_until < ${at})
              AND s.status = 'active'
              AND s.deleted_at IS NULL
            ORDER BY d.next_attempt_at, d.id
            LIMIT ${limit}
            FOR UPDATE OF d SKIP LOCKED
          )
          UPDATE webhook_deliveries d
          SET claimed_until = ${claimedUntil}
          FROM due, webhook_subscriptions s
          WHERE d.id = due.id AND s.id = d.subscription_id
          RETURNING d.id::text AS id, d.delivery_id, d.subscription_id, d.event_kind, d.body, d.attempts,
            d.next_attempt_at, d.event_at, s.url, s.secret`
        return rows
          .map(toClaimed)
          .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || compareKeys(a.pk, b.pk))
      }).pipe(Effect.orDie)

    /**
     * Stores one attempt and moves its delivery on, in one transaction: the
     * attempt row, the attempt count, the last status and error, the new
     * status and next due time, and the end of the claim. Returns false, and
     * changes nothing, when another runner already recorded this attempt.
     */
    const recordAttempt = (record: AttemptRecord) =>
      Effect.gen(function*() {
        const attempt = record.delivery.attempts + 1
        const finishedAt = yield* now
        const status = record.outcome === "retry" ? "pending" : record.outcome
        const updated = yield* sql`
          UPDATE webhook_deliveries
          SET attempts = ${attempt},
            last_status_code = ${Option.getOrNull(record.statusCode)},
            last_error = ${Option.getOrNull(record.error)},
            status = CASE WHEN status = 'pending' THEN ${status} ELSE status END,
            next_attempt_at = CASE WHEN status = 'pending' THEN ${Option.getOrNull(record.nextAttemptAt)}::timestamptz
              ELSE next_attempt_at END,
            delivered_at = ${record.outcome === "succeeded" ? finishedAt : null},
            claimed_until = NULL
          WHERE id = ${record.delivery.pk} AND attempts = ${record.delivery.attempts}
          RETURNING id`
        if (updated.length === 0) return false
        yield* sql`
          INSERT INTO webhook_attempts ${
          sql.insert({
            delivery_pk: record.delivery.pk,
            attempt,
            started_at: record.startedAt,
            duration_ms: record.durationMs,
            status_code: Option.getOrNull(record.statusCode),
            response_body: Option.getOrNull(record.responseBody),
            error: Option.getOrNull(record.error),
            outcome: record.outcome
          })
        }`
        if (record.outcome === "retry") yield* Metric.increment(webhookRetriesScheduled)
        return true
      }).pipe(sql.withTransaction, Effect.orDie)

    /** Ends the claims of deliveries that were claimed but never attempted, so they are due again at once. */
    const releaseClaims = (deliveries: ReadonlyArray<ClaimedDelivery>) =>
      deliveries.length === 0
        ? Effect.void
        : sql`
          UPDATE webhook_deliveries SET claimed_until = NULL
          WHERE id IN ${sql.in(deliveries.map((delivery) => delivery.pk))}
            AND status = 'pending'`.pipe(
          Effect.asVoid,
          Effect.orDie
        )

    /** Returns the ids of active subscriptions that have at least one due delivery. */
    const subscriptionsWithDueDeliveries = Effect.gen(function*() {
      const at = yield* now
      const rows = yield* sql<{ subscription_id: string }>`
        SELECT DISTINCT d.subscription_id
        FROM webhook_deliveries d
        JOIN webhook_subscriptions s ON s.id = d.subscription_id
        WHERE d.status = 'pending'
          AND d.next_attempt_at <= ${at}
          AND (d.claimed_until IS NULL OR d.claimed_until < ${at})
          AND s.status = 'active'
          AND s.deleted_at IS NULL`
      return rows.map((row) => row.subscription_id)
    }).pipe(Effect.orDie)

    /**
     * Counts the pending deliveries of active subscriptions that are due,
     * claimed or not, and finds the oldest due time, in one query over the
     * partial index of pending rows.
     */
    const dueQueueStats = Effect.gen(function*() {
      const at = yield* now
      const rows = yield* sql<{ depth: number; oldest_due_at: Date | null }>`
        SELECT count(*)::int AS depth, min(d.next_attempt_at) AS oldest_due_at
        FROM webhook_deliveries d
        JOIN webhook_subscriptions s ON s.id = d.subscription_id
        WHERE d.status = 'pending'
          AND d.next_attempt_at <= ${at}
          AND s.status = 'active'
          AND s.deleted_at IS NULL`
      const row = rows[0]
      return {
        depth: row?.depth ?? 0,
        oldestDueAt: Option.fromNullable(row?.oldest_due_at),
        at
      } satisfies DueQueueStats
    }).pipe(Effect.orDie)

    return { claimDue, recordAttempt, releaseClaims, subscriptionsWithDueDeliveries, dueQueueStats } as const
  })
}) {}

const toClaimed = (row: ClaimedRow): ClaimedDelivery => ({
  pk: row.id,
  deliveryId: row.delivery_id,
  subscriptionId: row.subscription_id,
  eventKind: row.event_kind,
  body: row.body,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  eventAt: row.event_at,
  url: row.url,
  secret: row.secret
})

/** Orders bigint row keys, which arrive as decimal strings. */
const compareKeys = (a: string, b: string): number => {
  if (a.length !== b.length) return a.length - b.length
  if (a === b) return 0
  return a < b ? -1 : 1
}
