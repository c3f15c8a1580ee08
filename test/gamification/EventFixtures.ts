import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { catalog } from "../../src/events/Catalog.ts"
import type { EventKind } from "../../src/events/EventKinds.ts"

/** One queued delivery as stored in the outbox. */
export interface StoredDelivery {
  readonly delivery_id: string
  readonly event_kind: string
  readonly company_id: string
  readonly body: string
}

/** The deliveries queued for a subscription, oldest first, optionally of one event kind. */
export const deliveriesOf = (subscriptionId: string, kind?: EventKind) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<StoredDelivery>`
      SELECT delivery_id, event_kind, company_id, body FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ${kind === undefined ? sql`` : sql`AND event_kind = ${kind}`}
      ORDER BY id`)

/** Parses a stored body and checks it against the schema of its kind; throws when it does not match. */
export const decodeBody = (kind: EventKind, body: string): unknown => {
  const parsed: unknown = JSON.parse(body)
  Schema.decodeUnknownSync(catalog[kind].schema as Schema.Schema<unknown, unknown>)(parsed)
  return parsed
}

/** Number of rows in `events` of one kind, for checking that a request published nothing. */
export const eventCount = (kind: EventKind) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly count: number }>`SELECT count(*)::int AS count FROM events WHERE kind = ${kind}`).pipe(
    Effect.map((rows) => rows[0]!.count)
  )

/**
 * Makes every insert of an event of `kind` fail until the scope closes. The
 * insert runs after the domain write that causes the event, so a request
 * that fails this way shows whether that write was rolled back.
 */
export const rejectEventsOf = (kind: EventKind) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.acquireRelease(
      Effect.gen(function*() {
        yield* sql.unsafe(`
          CREATE OR REPLACE FUNCTION reject_test_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'event rejected by test trigger'; END $$`)
        yield* sql.unsafe(`
          CREATE TRIGGER reject_test_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = '${kind}') EXECUTE FUNCTION reject_test_event()`)
      }).pipe(Effect.orDie),
      () => Effect.orDie(sql.unsafe("DROP TRIGGER reject_test_event ON events"))
    ))
