import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
import { loginPrefix } from "./WarehouseCredentials.ts"

/** Time past the statement timeout before the service cancels a statement itself. */
const grace = Duration.seconds(1)

/**
 * Cancels warehouse statements that run longer than the statement timeout
 * plus one second. Each login gets the timeout as its default, but a session
 * may change its own `statement_timeout`, so the service checks
 * `pg_stat_activity` as well, every half timeout (1 to 10 seconds). A
 * statement thus ends at most the timeout plus one second plus one interval
 * after it started. A statement that survives its cancel, a session idle in
 * a transaction past the same limit, a transaction older than ten timeouts
 * and a client that stops reading are ended with their session. While the
 * server-wide notification queue is more than half full, which a login that
 * listens and stops reading can cause, every login session is ended.
 *
 * Cancelling another role's statement needs a superuser or membership in
 * `pg_signal_backend`. Without either, a failed check is logged once per
 * run of failures and the role defaults alone apply.
 */
export const StatementReaperLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { warehouse } = yield* AppConfig
    const limitSeconds = Duration.toSeconds(Duration.sum(warehouse.statementTimeout, grace))
    const interval = Duration.clamp(Duration.times(warehouse.statementTimeout, 0.5), {
      minimum: Duration.seconds(1),
      maximum: Duration.seconds(10)
    })
    const intervalSeconds = Duration.toSeconds(interval)
    const transactionLimitSeconds = Duration.toSeconds(Duration.times(warehouse.statementTimeout, 10))
    let failing = false

    // Candidates are chosen first, so that no other session is ever touched. Each session is
    // judged by the time since its state changed, in every state but plain idle. What its cancel
    // did not stop, and every overdue state other than a running call, ends with the session.
    const reap = sql<{ pid: number; usename: string; action: "cancel" | "terminate" }>`
      SELECT pid, usename,
        CASE WHEN state IN ('active', 'fastpath function call')
            AND state_change >= now() - make_interval(secs => ${limitSeconds + intervalSeconds})
            AND xact_start >= now() - make_interval(secs => ${transactionLimitSeconds})
            AND pg_notification_queue_usage() <= 0.5
          THEN 'cancel' ELSE 'terminate' END AS action
      FROM pg_stat_activity
      WHERE starts_with(usename::text, ${loginPrefix})
        AND ((state <> 'idle' AND state_change < now() - make_interval(secs => ${limitSeconds}))
          OR xact_start < now() - make_interval(secs => ${transactionLimitSeconds})
          OR (wait_event = 'ClientWrite' AND state_change < now() - make_interval(secs => ${limitSeconds}))
          OR pg_notification_queue_usage() > 0.5)`.pipe(
      Effect.flatMap((overdue) =>
        Effect.forEach(overdue, (row) =>
          (row.action === "cancel"
            ? sql`SELECT pg_cancel_backend(${row.pid})`
            : sql`SELECT pg_terminate_backend(${row.pid})`).pipe(Effect.as(row)))
      ),
      Effect.tap((cancelled) =>
        Effect.forEach(cancelled, (row) =>
          Effect.logWarning(
            row.action === "cancel"
              ? "Warehouse statement cancelled past its timeout"
              : "Warehouse session ended past its timeout"
          ).pipe(
            Effect.annotateLogs({ pid: row.pid, user: row.usename, timeout_seconds: limitSeconds })
          ))
      ),
      Effect.tap(() => Effect.sync(() => (failing = false))),
      Effect.catchAll((error) =>
        failing ? Effect.void : Effect.sync(() => (failing = true)).pipe(
          Effect.zipRight(Effect.logWarning("Checking warehouse statements for their timeout failed", error))
        )
      )
    )

    // The statements run on the database's clock, so the checks keep wall-clock time even under a test clock.
    yield* reap.pipe(Effect.repeat(Schedule.spaced(interval)), Effect.withClock(Clock.make()), Effect.forkScoped)
  })
)
