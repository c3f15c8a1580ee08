import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import pg from "pg"
import { Migrations } from "../../src/platform/Migrations.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { deliveryChannelQuery } from "../support/TestDatabase.ts"
import { databaseUrl, freshDatabase } from "../support/TestDatabase.ts"
import { newSubscriptionId } from "./DeliveryFixtures.ts"

/** A fresh migrated database with the outbox on it, and a LISTEN connection that collects the notifications. */
const setup = Effect.gen(function*() {
  const url = databaseUrl(yield* freshDatabase)
  const context = yield* Layer.build(
    Outbox.Default.pipe(
      Layer.provideMerge(Migrations.layer),
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))
    )
  )
  const notified: Array<string> = []
  const listener = yield* Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      client.on("notification", (message) => notified.push(message.payload ?? ""))
      const channel = await client.query<{ value: string }>(deliveryChannelQuery)
      await client.query(`LISTEN ${channel.rows[0]!.value}`)
      return client
    }),
    (client) => Effect.promise(() => client.end())
  )
  return { context, notified, listener }
})

/** A subscription of `companyId` with the given filter and status; returns its id. */
const subscribe = (companyId: string, eventKinds: ReadonlyArray<string>, status: "active" | "paused" = "active") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = newSubscriptionId()
    yield* sql`
      INSERT INTO webhook_subscriptions (id, company_id, url, event_kinds, status, secret)
      VALUES (${id}, ${companyId}, ${"http://127.0.0.1:9/hook"}, ${[...eventKinds]}, ${status}, ${"sl_whsec_test"})`
    return id
  })

/** The event `naturalKey` of kind `badge.awarded` for `companyId`, with a body that names its delivery. */
const badgeEvent = (companyId: string, naturalKey: string) => ({
  companyId,
  kind: "badge.awarded",
  naturalKey,
  occurredAt: new Date(),
  deliveryId: (subscriptionId: string) => `badge.awarded:${naturalKey}:${subscriptionId}`,
  payload: (deliveryId: string) => ({ delivery_id: deliveryId })
})

describe("Outbox", () => {
  it.scopedLive("queues and notifies matching subscriptions", () =>
    Effect.gen(function*() {
      const { context, notified, listener } = yield* setup
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* Outbox
        const companyId = randomUUID()
        yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${"Outbox company"})`
        const everything = yield* subscribe(companyId, [])
        const badges = yield* subscribe(companyId, ["badge.awarded"])
        yield* subscribe(companyId, ["session.completed"])
        yield* subscribe(companyId, [], "paused")

        // No notification may arrive before the transaction commits.
        const nothingNotifiedYet = Effect.sleep("100 millis").pipe(Effect.andThen(() => expect(notified).toEqual([])))
        const queued = yield* outbox.publish(badgeEvent(companyId, "first")).pipe(
          Effect.tap(() => nothingNotifiedYet),
          sql.withTransaction
        )
        expect(queued).toBe(2)
        const rows = yield* sql<{ subscription_id: string; body: string }>`
          SELECT subscription_id, body FROM webhook_deliveries ORDER BY subscription_id`
        expect(rows.map((row) => row.subscription_id)).toEqual([everything, badges].sort())
        for (const row of rows) {
          expect(JSON.parse(row.body)).toEqual({ delivery_id: `badge.awarded:first:${row.subscription_id}` })
        }
        // A query on the LISTEN connection makes it read the notifications that are waiting.
        yield* Effect.promise(() => listener.query("SELECT 1"))
        yield* Effect.sleep("100 millis")
        expect([...notified].sort()).toEqual([everything, badges].sort())
      }).pipe(Effect.provide(context))
    }))

  it.scopedLive("ignores a repeated event", () =>
    Effect.gen(function*() {
      const { context } = yield* setup
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* Outbox
        const companyId = randomUUID()
        yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${"Outbox company"})`
        yield* subscribe(companyId, [])
        expect(yield* outbox.publish(badgeEvent(companyId, "once"))).toBe(1)
        expect(yield* outbox.publish(badgeEvent(companyId, "once"))).toBe(0)
        const [counts] = yield* sql<{ events: number; deliveries: number }>`
          SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM webhook_deliveries)::int AS deliveries`
        expect(counts).toEqual({ events: 1, deliveries: 1 })
      }).pipe(Effect.provide(context))
    }))

  it.scopedLive("records an unmatched event", () =>
    Effect.gen(function*() {
      const { context, notified } = yield* setup
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const outbox = yield* Outbox
        const companyId = randomUUID()
        yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${"Outbox company"})`
        yield* subscribe(companyId, ["session.completed"])
        expect(yield* outbox.publish(badgeEvent(companyId, "unmatched"))).toBe(0)
        const [counts] = yield* sql<{ events: number; deliveries: number }>`
          SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM webhook_deliveries)::int AS deliveries`
        expect(counts).toEqual({ events: 1, deliveries: 0 })
        yield* Effect.sleep("100 millis")
        expect(notified).toEqual([])
      }).pipe(Effect.provide(context))
    }))
})
