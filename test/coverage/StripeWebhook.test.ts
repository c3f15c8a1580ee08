import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { catalog } from "../../src/events/Catalog.ts"
import { createTenantWithUser, insertSubscription, startClock, testNow } from "../practice/PracticeFixtures.ts"
import { TestServerLive } from "../support/TestServer.ts"
import {
  coverageRows,
  deliveriesOf,
  newStripeEventId,
  newStripeSubscriptionId,
  postStripe,
  sendStripe,
  signStripe,
  storedSubscription,
  subscriptionEvent,
  testStripeSecret
} from "./StripeFixtures.ts"

const kind = "coverage.subscription_activated"

/** `created` of the first event in a test, in Unix seconds: a few minutes before the test clock. */
const createdBase = Math.floor(testNow / 1000) - 600

const isoAt = (seconds: number) => new Date(seconds * 1000).toISOString()

/** A tenant with one user, a webhook subscription to every kind and the first test time. */
const coveredRep = Effect.gen(function*() {
  yield* startClock
  const tenant = yield* createTenantWithUser("Acme")
  const everything = yield* insertSubscription(tenant.companyId)
  return { tenant, everything, stripeSubscriptionId: newStripeSubscriptionId() }
})

const activationEventsOf = (stripeSubscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ natural_key: string }>`
      SELECT natural_key FROM events WHERE kind = ${kind} AND natural_key LIKE ${`${stripeSubscriptionId}:%`}
      ORDER BY occurred_at`)

describe("Stripe webhook", () => {
  it.layer(TestServerLive({ stripeWebhookSecret: Option.some(Redacted.make(testStripeSecret)) }))((it) => {
    it.effect("activation is delivered to the rep's tenant", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        const coverageOnly = yield* insertSubscription(tenant.companyId, { eventKinds: [kind] })
        const otherKind = yield* insertSubscription(tenant.companyId, { eventKinds: ["badge.awarded"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })
        const otherTenant = yield* createTenantWithUser("Globex")
        const foreign = yield* insertSubscription(otherTenant.companyId)

        const created = yield* sendStripe(subscriptionEvent({
          type: "customer.subscription.created",
          subscriptionId: stripeSubscriptionId,
          status: "incomplete",
          created: createdBase,
          userId: tenant.userId
        }))
        expect(created.status).toBe(200)
        expect(created.body).toStrictEqual({
          status: "processed",
          stripe_subscription_id: stripeSubscriptionId,
          subscription_status: "incomplete",
          activated: false
        })
        expect(yield* deliveriesOf(everything)).toHaveLength(0)

        const activation = subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase + 40,
          userId: tenant.userId
        })
        const activated = yield* sendStripe(activation)
        expect(activated.status).toBe(200)
        expect(activated.body).toStrictEqual({
          status: "processed",
          stripe_subscription_id: stripeSubscriptionId,
          subscription_status: "active",
          activated: true
        })

        const expectedBody = (subscriptionId: string) => ({
          event_kind: kind,
          company_id: tenant.companyId,
          user_id: tenant.userId,
          plan: "individual",
          stripe_subscription_id: stripeSubscriptionId,
          activated_at: isoAt(createdBase + 40),
          delivery_id: `coverage_activated:${tenant.userId}:${subscriptionId}`
        })
        for (const subscriptionId of [everything, coverageOnly]) {
          const deliveries = yield* deliveriesOf(subscriptionId)
          expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
            `coverage_activated:${tenant.userId}:${subscriptionId}`
          ])
          expect(deliveries[0]!.event_kind).toBe(kind)
          expect(deliveries[0]!.company_id).toBe(tenant.companyId)
          const body = JSON.parse(deliveries[0]!.body)
          expect(body).toStrictEqual(expectedBody(subscriptionId))
          expect(() => Schema.decodeUnknownSync(catalog[kind].schema)(body)).not.toThrow()
        }
        expect(yield* deliveriesOf(otherKind)).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)
        expect(yield* deliveriesOf(foreign)).toHaveLength(0)

        const stored = yield* storedSubscription(stripeSubscriptionId)
        expect(stored).toStrictEqual({
          company_id: tenant.companyId,
          user_id: tenant.userId,
          plan: "individual",
          status: "active",
          last_event_created: new Date((createdBase + 40) * 1000)
        })
      }))

    it.effect("replayed event changes nothing", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        const activation = subscriptionEvent({
          type: "customer.subscription.created",
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase,
          userId: tenant.userId
        })
        const first = yield* sendStripe(activation)
        expect(first.body!.activated).toBe(true)
        const before = yield* coverageRows

        const replayed = yield* sendStripe(activation)

        expect(replayed.status).toBe(200)
        expect(replayed.body).toStrictEqual({ status: "duplicate", stripe_subscription_id: stripeSubscriptionId })
        expect(yield* coverageRows).toEqual(before)
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
      }))

    it.effect("only the activation edge fires", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        const send = (status: string, offset: number) =>
          sendStripe(subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status,
            created: createdBase + offset,
            userId: tenant.userId
          }))

        // Each step: the status Stripe reports, and whether it activates coverage.
        const steps: ReadonlyArray<readonly [string, boolean]> = [
          ["trialing", false],
          ["active", false],
          ["active", false],
          ["past_due", false],
          ["active", false],
          ["paused", false],
          ["active", true],
          ["active", false],
          ["canceled", false]
        ]
        let offset = 0
        for (const [status, activates] of steps) {
          offset += 10
          const response = yield* send(status, offset)
          expect(response.status, `${status} at +${offset}s`).toBe(200)
          expect(response.body!.activated, `${status} at +${offset}s`).toBe(activates)
        }

        expect(yield* activationEventsOf(stripeSubscriptionId)).toEqual([
          { natural_key: `${stripeSubscriptionId}:${isoAt(createdBase + 70)}` }
        ])
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
        expect((yield* storedSubscription(stripeSubscriptionId))!.status).toBe("canceled")
      }))

    it.effect("new active subscription activates", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep

        const response = yield* sendStripe(subscriptionEvent({
          type: "customer.subscription.created",
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase,
          userId: tenant.userId,
          price: { nickname: "team", lookup_key: "skill_insurance_team" }
        }))

        expect(response.body!.activated).toBe(true)
        const [delivery] = yield* deliveriesOf(everything)
        expect(JSON.parse(delivery!.body)).toStrictEqual({
          event_kind: kind,
          company_id: tenant.companyId,
          user_id: tenant.userId,
          plan: "team",
          stripe_subscription_id: stripeSubscriptionId,
          activated_at: isoAt(createdBase),
          delivery_id: `coverage_activated:${tenant.userId}:${everything}`
        })
      }))

    it.effect("plan comes from metadata first", () =>
      Effect.gen(function*() {
        const { everything, tenant } = yield* coveredRep
        const cases: ReadonlyArray<readonly [string, SubscriptionPlanSource, string]> = [
          ["metadata", { metadata: { plan: "family" }, price: { nickname: "team", lookup_key: "team_key" } }, "family"],
          ["lookup key", { price: { nickname: null, lookup_key: "skill_insurance_pro" } }, "skill_insurance_pro"],
          ["default", {}, "individual"]
        ]
        for (const [name, source, plan] of cases) {
          const stripeSubscriptionId = newStripeSubscriptionId()
          const response = yield* sendStripe(subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase,
            userId: tenant.userId,
            ...source
          }))
          expect(response.body!.activated, name).toBe(true)
          expect((yield* storedSubscription(stripeSubscriptionId))!.plan, name).toBe(plan)
        }
        // The first activation of the user is delivered; the later ones share its delivery id.
        const [delivery] = yield* deliveriesOf(everything)
        expect(JSON.parse(delivery!.body).plan).toBe("family")
      }))

    it.effect("second activation of a user is dropped", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        const send = (subscriptionId: string, status: string, offset: number) =>
          sendStripe(subscriptionEvent({
            subscriptionId,
            status,
            created: createdBase + offset,
            userId: tenant.userId
          }))

        expect((yield* send(stripeSubscriptionId, "active", 0)).body!.activated).toBe(true)
        expect((yield* send(stripeSubscriptionId, "paused", 10)).body!.activated).toBe(false)
        const resumed = yield* send(stripeSubscriptionId, "active", 20)
        const secondSubscription = newStripeSubscriptionId()
        const secondActivation = yield* send(secondSubscription, "active", 30)

        // Both are activations, and both events are recorded.
        expect(resumed.body!.activated).toBe(true)
        expect(secondActivation.body!.activated).toBe(true)
        expect(yield* activationEventsOf(stripeSubscriptionId)).toHaveLength(2)
        expect(yield* activationEventsOf(secondSubscription)).toHaveLength(1)
        // The delivery id names the user, not the Stripe subscription, so the outbox drops the later ones.
        const deliveries = yield* deliveriesOf(everything)
        expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
          `coverage_activated:${tenant.userId}:${everything}`
        ])
        expect(JSON.parse(deliveries[0]!.body).activated_at).toBe(isoAt(createdBase))
      }))

    it.effect("older event is skipped", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep

        const active = yield* sendStripe(subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase + 30,
          userId: tenant.userId
        }))
        expect(active.body!.activated).toBe(true)

        const lateCreated = subscriptionEvent({
          type: "customer.subscription.created",
          subscriptionId: stripeSubscriptionId,
          status: "incomplete",
          created: createdBase,
          userId: tenant.userId
        })
        const stale = yield* sendStripe(lateCreated)
        expect(stale.status).toBe(200)
        expect(stale.body).toStrictEqual({ status: "stale", stripe_subscription_id: stripeSubscriptionId })
        const stored = yield* storedSubscription(stripeSubscriptionId)
        expect(stored!.status).toBe("active")
        expect(stored!.last_event_created).toEqual(new Date((createdBase + 30) * 1000))

        // The skipped incomplete status does not make the next active update an activation.
        const next = yield* sendStripe(subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase + 60,
          userId: tenant.userId
        }))
        expect(next.body!.activated).toBe(false)
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
        expect((yield* sendStripe(lateCreated)).body!.status).toBe("duplicate")
      }))

    it.effect("same-second events apply in arrival order", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        for (const [type, status] of [["customer.subscription.created", "incomplete"], ["customer.subscription.updated", "active"]]) {
          yield* sendStripe(subscriptionEvent({
            type,
            subscriptionId: stripeSubscriptionId,
            status: status!,
            created: createdBase,
            userId: tenant.userId
          }))
        }
        expect((yield* storedSubscription(stripeSubscriptionId))!.status).toBe("active")
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
      }))

    it.effect("concurrent first events activate once", () =>
      Effect.gen(function*() {
        const { stripeSubscriptionId, tenant } = yield* coveredRep
        const bodies = [0, 1, 2, 3].map((offset) =>
          subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase + offset,
            userId: tenant.userId
          })
        )
        const signed = yield* Effect.forEach(bodies, (body) => Effect.map(signStripe(body), (signature) => ({ body, signature })))

        const responses = yield* Effect.forEach(signed, ({ body, signature }) => postStripe(body, signature), {
          concurrency: "unbounded"
        })

        expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200])
        expect(responses.filter((response) => response.body!.activated === true)).toHaveLength(1)
        expect(yield* activationEventsOf(stripeSubscriptionId)).toHaveLength(1)
      }))

    it.effect("other events are ignored", () =>
      Effect.gen(function*() {
        const { stripeSubscriptionId, tenant } = yield* coveredRep
        const before = yield* coverageRows
        const bodies: ReadonlyArray<readonly [string, string]> = [
          ["other type", subscriptionEvent({
            type: "invoice.paid",
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase,
            userId: tenant.userId
          })],
          ["deleted", subscriptionEvent({
            type: "customer.subscription.deleted",
            subscriptionId: stripeSubscriptionId,
            status: "canceled",
            created: createdBase,
            userId: tenant.userId
          })],
          ["no metadata", subscriptionEvent({ subscriptionId: stripeSubscriptionId, status: "active", created: createdBase })],
          ["blank user", subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase,
            userId: " "
          })],
          ["unknown user", subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase,
            userId: randomUUID()
          })],
          ["user that is not a UUID", subscriptionEvent({
            subscriptionId: stripeSubscriptionId,
            status: "active",
            created: createdBase,
            userId: "usr_42"
          })],
          ["not a subscription", JSON.stringify({ id: newStripeEventId(), type: "charge.refunded", created: createdBase, data: { object: { id: "ch_1" } } })]
        ]
        for (const [name, body] of bodies) {
          const response = yield* sendStripe(body)
          expect(response.status, name).toBe(200)
          expect(response.body, name).toStrictEqual({ status: "ignored" })
        }
        expect(yield* coverageRows).toEqual(before)
      }))

    it.effect("bad signatures are 401 and write nothing", () =>
      Effect.gen(function*() {
        const { stripeSubscriptionId, tenant } = yield* coveredRep
        const body = subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase,
          userId: tenant.userId
        })
        const good = yield* signStripe(body)
        const tampered = body.replace("\"status\":\"active\"", "\"status\":\"paused\"")
        expect(tampered).not.toBe(body)
        const before = yield* coverageRows

        const cases: ReadonlyArray<readonly [string, string, string | undefined]> = [
          ["missing header", body, undefined],
          ["empty header", body, ""],
          ["malformed header", body, "v1=deadbeef"],
          ["other secret", body, yield* signStripe(body, 2, "whsec_some_other_secret")],
          ["changed body", tampered, good],
          ["expired", body, yield* signStripe(body, 301)],
          ["bad signature on invalid JSON", "{not json", good]
        ]
        for (const [name, payload, signature] of cases) {
          const response = yield* postStripe(payload, signature)
          expect(response.status, name).toBe(401)
          expect(response.body!._tag, name).toBe("Unauthorized")
        }
        expect(yield* coverageRows).toEqual(before)

        const accepted = yield* postStripe(body, yield* signStripe(body, 299))
        expect(accepted.body!.activated).toBe(true)
      }))

    it.effect("invalid event is 400 naming the field", () =>
      Effect.gen(function*() {
        const { stripeSubscriptionId, tenant } = yield* coveredRep
        const before = yield* coverageRows

        const notJson = "{\"id\": \"evt_1\", "
        const broken = yield* sendStripe(notJson)
        expect(broken.status).toBe(400)
        expect(broken.body!._tag).toBe("BadRequest")
        expect(broken.body!.message).toBe("The Stripe event is not valid JSON.")

        const valid = JSON.parse(subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase,
          userId: tenant.userId
        }))
        const cases: ReadonlyArray<readonly [string, (event: Record<string, any>) => void]> = [
          ["data.object.status", (event) => delete event.data.object.status],
          ["data.object.id", (event) => (event.data.object.id = 42)],
          ["created", (event) => (event.created = "yesterday")],
          ["id", (event) => delete event.id],
          ["type", (event) => delete event.type]
        ]
        for (const [field, change] of cases) {
          const event = structuredClone(valid)
          change(event)
          const response = yield* sendStripe(JSON.stringify(event))
          expect(response.status, field).toBe(400)
          expect(response.body!._tag, field).toBe("BadRequest")
          expect(response.body!.field, field).toBe(field)
          expect(response.body!.message, field).toContain(field)
        }
        expect(yield* coverageRows).toEqual(before)
      }))

    it.effect("failure rolls everything back", () =>
      Effect.gen(function*() {
        const { everything, stripeSubscriptionId, tenant } = yield* coveredRep
        const sql = yield* SqlClient.SqlClient
        // The trigger fails the event insert, after the Stripe event and the subscription status are written.
        yield* sql.unsafe(`
          CREATE FUNCTION fail_coverage_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'coverage event rejected for the test'; END $$`)
        yield* sql.unsafe(`
          CREATE TRIGGER fail_coverage_event BEFORE INSERT ON events
          FOR EACH ROW WHEN (NEW.kind = 'coverage.subscription_activated') EXECUTE FUNCTION fail_coverage_event()`)
        const body = subscriptionEvent({
          subscriptionId: stripeSubscriptionId,
          status: "active",
          created: createdBase,
          userId: tenant.userId
        })
        const before = yield* coverageRows

        const failed = yield* sendStripe(body).pipe(
          Effect.ensuring(Effect.orDie(sql.unsafe("DROP TRIGGER fail_coverage_event ON events")))
        )

        expect(failed.status).toBe(500)
        expect(failed.body!._tag).toBe("InternalError")
        expect(JSON.stringify(failed.body)).not.toContain("rejected for the test")
        expect(yield* coverageRows).toEqual(before)
        expect(yield* storedSubscription(stripeSubscriptionId)).toBeUndefined()

        const retried = yield* sendStripe(body)
        expect(retried.body!.activated).toBe(true)
        expect(yield* deliveriesOf(everything)).toHaveLength(1)
      }))
  })
})

type SubscriptionPlanSource = {
  readonly metadata?: Readonly<Record<string, string>>
  readonly price?: { readonly nickname: string | null; readonly lookup_key: string | null }
}
