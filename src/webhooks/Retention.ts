import { MachineId, Snowflake } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"

/** Rows one DELETE statement removes at most, so that no run holds row locks for long. */
export const retentionBatchSize = 5_000

/**
 * Age past which processed `@effect/cluster` messages and their replies are
 * deleted. The library keeps a processed message so that a resend with the
 * same message id gets the stored reply instead of running again. One hour
 * is an estimate of the longest time a sender may take to resend.
 */
export const clusterMessageRetention = Duration.hours(1)

/** Rows deleted by one pruning run, per table. */
export interface PruneCounts {
  readonly deliveries: number
  readonly events: number
  readonly clusterMessages: number
  readonly clusterReplies: number
}

/**
 * Deletes what the delivery path no longer needs: finished deliveries with
 * their attempts, events that no delivery references, and processed cluster
 * messages with their replies. Pending deliveries and unprocessed cluster
 * messages are never deleted. Each statement deletes at most `batchSize`
 * rows in its own transaction, and the run repeats it until a batch comes
 * back short.
 */
export class DeliveryRetention extends Effect.Service<DeliveryRetention>()("saleslab/DeliveryRetention", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { deliveryRetention } = yield* AppConfig

    /** Runs `deleteBatch` until it deletes fewer than `batchSize` rows, and returns the total deleted. */
    const repeatBatches = (batchSize: number, deleteBatch: Effect.Effect<number>) =>
      Effect.gen(function*() {
        let total = 0
        while (true) {
          const deleted = yield* deleteBatch
          total += deleted
          if (deleted < batchSize) return total
        }
      })

    const countDeleted = (rows: ReadonlyArray<{ readonly count: number }>) => rows[0]?.count ?? 0

    // A succeeded delivery ages from when it was delivered, a failed or
    // cancelled one from when it was queued. Its attempts are deleted in the
    // same statement, as no foreign key cascades to them. SKIP LOCKED leaves a row
    // that a requeue is moving back to pending at that moment.
    const deleteDeliveries = (cutoff: Date, batchSize: number) =>
      sql<{ count: number }>`
        WITH deleted AS (
          DELETE FROM webhook_deliveries WHERE id IN (
            SELECT id FROM webhook_deliveries
            WHERE (status = 'succeeded' AND COALESCE(delivered_at, created_at) < ${cutoff})
              OR (status IN ('failed', 'cancelled') AND created_at < ${cutoff})
            LIMIT ${batchSize}
            FOR UPDATE SKIP LOCKED
          )
          RETURNING id
        ),
        deleted_attempts AS (
          DELETE FROM webhook_attempts a USING deleted WHERE a.delivery_pk = deleted.id
        )
        SELECT count(*)::int AS count FROM deleted`.pipe(Effect.map(countDeleted), Effect.orDie)

    // NOTE: an event row is also the record that its natural key was already
    // published. Once it is deleted, publishing the same natural key again
    // queues it again, so a source that repeats an event after the retention
    // period delivers it twice.
    const deleteEvents = (cutoff: Date, batchSize: number) =>
      sql<{ count: number }>`
        WITH deleted AS (
          DELETE FROM events WHERE id IN (
            SELECT e.id FROM events e
            WHERE e.created_at < ${cutoff}
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
            LIMIT ${batchSize}
            FOR UPDATE SKIP LOCKED
          )
          RETURNING 1
        )
        SELECT count(*)::int AS count FROM deleted`.pipe(Effect.map(countDeleted), Effect.orDie)

    // The cluster tables carry no creation time, but their ids are snowflakes
    // whose high bits are the creation time in milliseconds, so every id
    // below the snowflake of the cutoff was created before it. Replies go
    // first, so none is left without its request message.
    const deleteClusterReplies = (cutoffId: Snowflake.Snowflake, batchSize: number) =>
      sql<{ count: number }>`
        WITH deleted AS (
          DELETE FROM cluster_replies WHERE id IN (
            SELECT r.id FROM cluster_replies r
            JOIN cluster_messages m ON m.id = r.request_id
            WHERE m.processed AND m.id < ${String(cutoffId)}::bigint
            LIMIT ${batchSize}
          )
          RETURNING 1
        )
        SELECT count(*)::int AS count FROM deleted`.pipe(Effect.map(countDeleted), Effect.orDie)

    const deleteClusterMessages = (cutoffId: Snowflake.Snowflake, batchSize: number) =>
      sql<{ count: number }>`
        WITH deleted AS (
          DELETE FROM cluster_messages WHERE id IN (
            SELECT id FROM cluster_messages
            WHERE processed AND id < ${String(cutoffId)}::bigint
            LIMIT ${batchSize}
          )
          RETURNING 1
        )
        SELECT count(*)::int AS count FROM deleted`.pipe(Effect.map(countDeleted), Effect.orDie)

    /** Deletes every row that is past retention at `now`, in batches of `batchSize`, and returns the counts. */
    const pruneAt = (now: Date, batchSize: number = retentionBatchSize) =>
      Effect.gen(function*() {
        const cutoff = new Date(now.getTime() - Duration.toMillis(deliveryRetention))
        const clusterCutoffId = Snowflake.make({
          timestamp: now.getTime() - Duration.toMillis(clusterMessageRetention),
          machineId: MachineId.make(0),
          sequence: 0
        })

        const deliveries = yield* repeatBatches(batchSize, deleteDeliveries(cutoff, batchSize))
        const events = yield* repeatBatches(batchSize, deleteEvents(cutoff, batchSize))
        const clusterReplies = yield* repeatBatches(batchSize, deleteClusterReplies(clusterCutoffId, batchSize))
        const clusterMessages = yield* repeatBatches(batchSize, deleteClusterMessages(clusterCutoffId, batchSize))

        const counts: PruneCounts = { deliveries, events, clusterMessages, clusterReplies }
        yield* Effect.logInfo("Delivery retention pruned rows").pipe(
          Effect.annotateLogs({ ...counts, cutoff: cutoff.toISOString() })
        )
        return counts
      }).pipe(Effect.withSpan("DeliveryRetention.prune"))

    /** Deletes every row that is past retention now, by the Effect `Clock`. */
    const prune = Effect.flatMap(Clock.currentTimeMillis, (millis) => pruneAt(new Date(millis)))

    return { prune, pruneAt } as const
  })
}) {}
