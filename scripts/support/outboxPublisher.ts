/**
 * Publishes benchmark events into the service's database the way an emit
 * point does: `Outbox.publish` inside `sql.withTransaction`, which writes
 * the event, its delivery rows and the `pg_notify` that wakes the
 * dispatcher in one transaction, over an `@effect/sql-pg` client of its own.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { epochNow } from "./report.ts"

/**
 * Event kind of the benchmark events. The bodies have the shape of a
 * `session.scorecard_finalized` body plus an integer `sequence`, which the
 * receiver reports back with the arrival time.
 */
export const benchmarkEventKind = "session.scorecard_finalized"

/** A subscription that benchmark events are published to, alone in its tenant. */
export interface Target {
  readonly subscriptionId: string
  readonly companyId: string
  /** Signing secret of the subscription. */
  readonly secret: string
}

/** The body of benchmark event `sequence` for one subscription: about 700 bytes, like a real scorecard event. */
export const benchmarkPayload = (sequence: number, companyId: string, deliveryId: string, scorecardId: string) => ({
  event_kind: benchmarkEventKind,
  company_id: companyId,
  delivery_id: deliveryId,
  sequence,
  session_id: randomUUID(),
  user_id: randomUUID(),
  scorecard: {
    id: scorecardId,
    overall_score: 50 + (sequence % 50),
    verdict: sequence % 3 === 0 ? "fail" : "pass",
    headline: "Benchmark event: held value on price before discussing a discount",
    category_scores: { discovery: 8, objection_handling: 7, control: 9 },
    best_line: "Benchmark event: this line stands in for the rep's best line of the call.",
    worst_line: "Benchmark event: this line stands in for the rep's worst line of the call.",
    next_drill: "Benchmark event: no practice session took place."
  }
})

/** Delivery id of a benchmark event, in the format of `session.scorecard_finalized`. */
export const benchmarkDeliveryId = (scorecardId: string, subscriptionId: string) =>
  `scorecard.finalized:${scorecardId}:${subscriptionId}`

/** Times of one published event, as epoch milliseconds. */
export interface PublishTiming {
  /** When `publish` was called, before the wait for a pooled connection. */
  readonly startedAt: number
  /** Just after the transaction had committed. */
  readonly committedAt: number
  /** Deliveries the event queued: 1 for a target alone in its tenant. */
  readonly queued: number
}

/** Counts of `webhook_deliveries` rows by status. */
export type StatusCounts = Readonly<Record<string, number>>

/** A connection pool on the service's database that publishes benchmark events through the outbox. */
export interface OutboxPublisher {
  /** Publishes event `sequence` for `target` in one transaction. */
  publish(sequence: number, target: Target): Promise<PublishTiming>
  /**
   * Publishes several events in one transaction, as an emit point that
   * writes many rows at once does. Their deliveries become due together at
   * the commit. `queued` counts the deliveries of all of them.
   */
  publishMany(events: ReadonlyArray<{ readonly sequence: number; readonly target: Target }>): Promise<PublishTiming>
  /**
   * Counts the benchmark deliveries by status, leaving out the subscriptions
   * in `excluded`. With `pendingOnly`, counts only pending rows, a cheap
   * query over the partial index of pending rows.
   */
  statusCounts(options?: { readonly excluded?: ReadonlyArray<string>; readonly pendingOnly?: boolean }): Promise<StatusCounts>
  /** Runs a query on the pool, for reads the benchmarks make besides the counts. */
  query<A extends object>(text: string, parameters?: ReadonlyArray<unknown>): Promise<ReadonlyArray<A>>
  close(): Promise<void>
}

/**
 * Connects to the service's database with a pool of `connections` and
 * opens every connection before it returns, so that the first events do
 * not wait for new connections.
 */
export const connectPublisher = async (databaseUrl: string, connections: number): Promise<OutboxPublisher> => {
  // The tracer is off, as in a service without an OTLP endpoint, where emit points run.
  const runtime = ManagedRuntime.make(
    Outbox.Default.pipe(
      Layer.provideMerge(
        PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: connections, applicationName: "saleslab-benchmark" })
      ),
      Layer.provideMerge(Layer.setTracerEnabled(false))
    )
  )
  const { outbox, sql } = await runtime.runPromise(Effect.all({ outbox: Outbox, sql: SqlClient.SqlClient }))
  await runtime.runPromise(
    Effect.forEach(Array.from({ length: connections }), () => sql`SELECT pg_sleep(0.05)`, { concurrency: "unbounded" })
  )

  const publishOne = (sequence: number, target: Target) => {
    const scorecardId = randomUUID()
    return outbox.publish({
      companyId: target.companyId,
      kind: benchmarkEventKind,
      naturalKey: scorecardId,
      occurredAt: new Date(),
      deliveryId: (subscriptionId) => benchmarkDeliveryId(scorecardId, subscriptionId),
      payload: (deliveryId) => benchmarkPayload(sequence, target.companyId, deliveryId, scorecardId)
    })
  }

  const publishMany = (events: ReadonlyArray<{ readonly sequence: number; readonly target: Target }>) => {
    const startedAt = epochNow()
    return runtime.runPromise(
      Effect.reduce(events, 0, (queued, event) => Effect.map(publishOne(event.sequence, event.target), (one) => queued + one)).pipe(
        sql.withTransaction,
        // The commit time is taken on the fiber that ran the transaction, before the promise settles.
        Effect.map((queued) => ({ startedAt, committedAt: epochNow(), queued }))
      )
    )
  }

  const publish = (sequence: number, target: Target) => publishMany([{ sequence, target }])

  const statusCounts = async (options: { readonly excluded?: ReadonlyArray<string>; readonly pendingOnly?: boolean } = {}) => {
    const excluded = [...(options.excluded ?? [])]
    const rows = await runtime.runPromise(sql<{ status: string; count: number }>`
      SELECT status, count(*)::int AS count FROM webhook_deliveries
      WHERE event_kind = ${benchmarkEventKind}
        ${options.pendingOnly === true ? sql`AND status = 'pending'` : sql``}
        ${excluded.length > 0 ? sql`AND subscription_id NOT IN ${sql.in(excluded)}` : sql``}
      GROUP BY status`)
    return Object.fromEntries(rows.map((row) => [row.status, row.count]))
  }

  const query = <A extends object>(text: string, parameters: ReadonlyArray<unknown> = []) =>
    runtime.runPromise(sql.unsafe<A>(text, parameters as Array<unknown>))

  return { publish, publishMany, statusCounts, query, close: () => runtime.dispose() }
}
