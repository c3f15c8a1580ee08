import { SqlClient } from "@effect/sql"
import { Duration, Effect, Schedule } from "effect"
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto"
import { AppConfig, type AppSettings } from "../../src/platform/AppConfig.ts"
import { randomBase62 } from "../../src/platform/Secrets.ts"
import { makeDeliveryEngine } from "../../src/webhooks/DeliveryEngine.ts"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { ShiftedClockLive } from "../support/ShiftedClock.ts"

/** The engine on the shifted clock and the real HTTP sender. */
export const TestEngineLive = makeDeliveryEngine({ clock: ShiftedClockLive, sender: WebhookSender.layer })

/** A subscription id in the service's format. */
export const newSubscriptionId = () => `sub_${randomBase62(16)}`

/** Settings of the delivery tests: a 1 second timeout, and sweeps only at start-up unless a test runs one. */
export const testSettings = (overrides: Partial<AppSettings> = {}) =>
  AppConfig.layerTest({ deliveryTimeout: Duration.seconds(1), sweepInterval: Duration.hours(1), ...overrides })

/** A company and an active subscription to `url`, with a new id unless one is given; returns their ids and the secret. */
export const createSubscription = (url: string, givenId?: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const subscriptionId = givenId ?? newSubscriptionId()
    const companyId = randomUUID()
    const secret = `sl_whsec_${randomBase62(32)}`
    yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${"Test company"})`
    yield* sql`
      INSERT INTO webhook_subscriptions (id, company_id, url, status, secret)
      VALUES (${subscriptionId}, ${companyId}, ${url}, 'active', ${secret})`
    return { companyId, subscriptionId, secret }
  }).pipe(Effect.orDie)

/** Queues one delivery of `payload` for the subscription; returns its delivery id. */
export const queueDelivery = (
  subscription: { readonly companyId: string; readonly subscriptionId: string },
  payload: Record<string, unknown> = {}
) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const deliveryId = `test.event:${randomUUID()}:${subscription.subscriptionId}`
    yield* outbox.enqueue({
      subscriptionId: subscription.subscriptionId,
      companyId: subscription.companyId,
      kind: "session.scorecard_finalized",
      deliveryId,
      payload: { event_kind: "session.scorecard_finalized", company_id: subscription.companyId, ...payload, delivery_id: deliveryId }
    })
    return deliveryId
  }).pipe(Effect.orDie)

export interface DeliveryRow {
  readonly id: string
  readonly delivery_id: string
  readonly status: string
  readonly attempts: number
  readonly last_status_code: number | null
  readonly last_error: string | null
  readonly next_attempt_at: Date | null
  readonly claimed_until: Date | null
  readonly delivered_at: Date | null
  readonly body: string
}

export interface AttemptRow {
  readonly attempt: number
  readonly started_at: Date
  readonly duration_ms: number
  readonly status_code: number | null
  readonly response_body: string | null
  readonly error: string | null
  readonly outcome: string
}

/** The delivery row of `deliveryId`. */
export const deliveryRow = (deliveryId: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) =>
      sql<DeliveryRow>`
        SELECT id::text AS id, delivery_id, status, attempts, last_status_code, last_error, next_attempt_at,
          claimed_until, delivered_at, body
        FROM webhook_deliveries WHERE delivery_id = ${deliveryId}`
    ),
    Effect.map((rows) => rows[0]!),
    Effect.orDie
  )

/** The attempts of `deliveryId`, in order. */
export const attemptRows = (deliveryId: string) =>
  SqlClient.SqlClient.pipe(
    Effect.flatMap((sql) =>
      sql<AttemptRow>`
        SELECT a.attempt, a.started_at, a.duration_ms, a.status_code, a.response_body, a.error, a.outcome
        FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_pk
        WHERE d.delivery_id = ${deliveryId}
        ORDER BY a.attempt`
    ),
    Effect.orDie
  )

/** Polls `deliveryRow` every 50 ms until `predicate` holds, and fails with the last row after `timeout`. */
export const awaitDelivery = (
  deliveryId: string,
  predicate: (row: DeliveryRow) => boolean,
  timeout: Duration.DurationInput = "15 seconds"
) =>
  deliveryRow(deliveryId).pipe(
    Effect.filterOrFail(predicate, (row) => new Error(`Delivery ${deliveryId} stayed at ${JSON.stringify(row)}`)),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: Math.ceil(Duration.toMillis(timeout) / 50) }),
    Effect.orDie
  )

/**
 * Verifies a signature the way the reference's Node snippet does: HMAC-SHA256
 * of the raw body keyed with the secret string, compared in constant time
 * with the hex after `sha256=`.
 */
export const verifyLikeReference = (secret: string, rawBody: string, header: string): boolean => {
  const received = Buffer.from(header.replace(/^sha256=/, ""), "hex")
  const expected = Buffer.from(createHmac("sha256", secret).update(rawBody).digest("hex"), "hex")
  return received.length === expected.length && timingSafeEqual(received, expected)
}
