import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { createSubscriptions } from "../../scripts/support/benchSubscriptions.ts"
import { runOpenLoop } from "../../scripts/support/loadPhase.ts"
import { benchmarkEventKind, connectPublisher } from "../../scripts/support/outboxPublisher.ts"
import { epochNow } from "../../scripts/support/report.ts"
import { Migrations } from "../../src/platform/Migrations.ts"
import { databaseUrl, deliveryChannelQuery, freshDatabase } from "../support/TestDatabase.ts"

/** Creates a fresh migrated database for the scope and returns its URL. */
const migratedDatabase = Effect.gen(function*() {
  const url = databaseUrl(yield* freshDatabase)
  yield* Layer.build(Migrations.layer.pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))))
  return url
})

const withClient = <A>(url: string, use: (client: pg.Client) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => use(client)),
    (client) => Effect.promise(() => client.end())
  )

describe("Outbox publisher", () => {
  it.scopedLive("queues one delivery per event and notifies on commit", () =>
    Effect.gen(function*() {
      const url = yield* migratedDatabase
      const [target] = yield* Effect.promise(() =>
        createSubscriptions({
          method: "sql",
          count: 3,
          url: "http://127.0.0.1:9/saleslab/webhook",
          eventKinds: [benchmarkEventKind],
          baseUrl: "http://127.0.0.1:9",
          operatorToken: "unused",
          databaseUrl: url,
          concurrency: 1
        })
      )
      expect(target!.subscriptionId).toMatch(/^sub_[0-9A-Za-z]{24}$/)
      expect(target!.secret).toMatch(/^sl_whsec_[0-9A-Za-z]{40}$/)

      yield* withClient(url, async (listener) => {
        const notified: Array<string> = []
        listener.on("notification", (message) => notified.push(message.payload ?? ""))
        const channel = await listener.query<{ value: string }>(deliveryChannelQuery)
        await listener.query(`LISTEN ${channel.rows[0]!.value}`)

        const publisher = await connectPublisher(url, 2)
        try {
          const timing = await publisher.publish(17, target!)
          expect(timing.queued).toBe(1)
          expect(timing.committedAt).toBeGreaterThanOrEqual(timing.startedAt)
          expect(timing.committedAt).toBeLessThanOrEqual(epochNow())

          const rows = await listener.query<{ delivery_id: string; body: string; status: string; company_id: string }>(
            "SELECT delivery_id, body, status, company_id FROM webhook_deliveries WHERE subscription_id = $1",
            [target!.subscriptionId]
          )
          expect(rows.rows).toHaveLength(1)
          const row = rows.rows[0]!
          expect(row.status).toBe("pending")
          expect(row.company_id).toBe(target!.companyId)
          expect(row.delivery_id).toMatch(new RegExp(`^scorecard\\.finalized:[0-9a-f-]{36}:${target!.subscriptionId}$`))
          const body = JSON.parse(row.body) as { sequence: number; delivery_id: string; event_kind: string }
          expect(body.sequence).toBe(17)
          expect(body.delivery_id).toBe(row.delivery_id)
          expect(body.event_kind).toBe(benchmarkEventKind)

          const events = await listener.query("SELECT id FROM events WHERE company_id = $1", [target!.companyId])
          expect(events.rows).toHaveLength(1)
          expect(await publisher.statusCounts()).toEqual({ pending: 1 })
          expect(await publisher.statusCounts({ excluded: [target!.subscriptionId] })).toEqual({})

          for (let tries = 0; notified.length === 0 && tries < 50; tries++) await new Promise((resolve) => setTimeout(resolve, 20))
          expect(notified).toEqual([target!.subscriptionId])

          // Several events in one transaction commit together.
          const many = await publisher.publishMany([18, 19, 20].map((sequence) => ({ sequence, target: target! })))
          expect(many.queued).toBe(3)
          const committed = await listener.query<{ count: number }>(
            "SELECT count(*)::int AS count FROM webhook_deliveries WHERE subscription_id = $1",
            [target!.subscriptionId]
          )
          expect(committed.rows[0]!.count).toBe(4)
        } finally {
          await publisher.close()
        }
      })
    }), { timeout: 60_000 })
})

describe("Open loop", () => {
  it.live("starts each call on schedule without waiting", () =>
    Effect.promise(async () => {
      const calls: Array<{ index: number; scheduledAt: number; calledAt: number }> = []
      const rate = 500
      const timing = await runOpenLoop(50, rate, (index, scheduledAt) => {
        calls.push({ index, scheduledAt, calledAt: epochNow() })
      })

      expect(calls.map((call) => call.index)).toEqual(Array.from({ length: 50 }, (_, index) => index))
      for (const call of calls) {
        expect(call.scheduledAt).toBeCloseTo(timing.startedAt + (call.index * 1000) / rate, 6)
        // A call never starts before its scheduled time.
        expect(call.calledAt).toBeGreaterThanOrEqual(call.scheduledAt)
      }
      // The loop reads the clock once per tick, before the calls of that tick.
      expect(timing.maxStartLagMs).toBeGreaterThanOrEqual(0)
      expect(timing.maxStartLagMs).toBeLessThanOrEqual(Math.max(...calls.map((call) => call.calledAt - call.scheduledAt)))
    }))
})
