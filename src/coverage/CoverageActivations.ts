import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { Events } from "../events/Events.ts"
import type { StripeWebhookOutcome } from "./Api.ts"
import type { SubscriptionChange } from "./SubscriptionChange.ts"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Statuses from which a move to `active` is an activation. A subscription never seen before counts too. */
const activatableStatuses: ReadonlySet<string> = new Set(["paused", "incomplete"])

interface StoredSubscription {
  readonly status: string
  readonly last_event_created: Date
}

/**
 * Applies verified Stripe subscription events to `coverage_subscriptions`
 * and emits `coverage.subscription_activated` on the activation edge only.
 * Each event is applied in one transaction that also records its id in
 * `stripe_events`, so a redelivered event changes nothing, and a failure
 * writes neither the status nor the event.
 */
export class CoverageActivations extends Effect.Service<CoverageActivations>()("saleslab/CoverageActivations", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events

    const findCompanyOfUser = (userId: string) =>
      uuidPattern.test(userId)
        ? Effect.map(
          sql<{ company_id: string }>`SELECT company_id FROM users WHERE id = ${userId}`,
          (rows) => rows[0]?.company_id
        )
        : Effect.succeed(undefined)

    const applyLocked = (change: SubscriptionChange, companyId: string) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const recorded = yield* sql`
          INSERT INTO stripe_events (id, type, stripe_subscription_id, received_at)
          VALUES (${change.eventId}, ${change.eventType}, ${change.stripeSubscriptionId}, ${now})
          ON CONFLICT (id) DO NOTHING
          RETURNING id`
        if (recorded.length === 0) {
          yield* Effect.logInfo("Stripe event repeated")
          return { status: "duplicate", stripe_subscription_id: change.stripeSubscriptionId } as const
        }

        // Serialises events of one subscription, so two concurrent first events cannot both see it as new.
        yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${`coverage:${change.stripeSubscriptionId}`}, 0))`
        const [previous] = yield* sql<StoredSubscription>`
          SELECT status, last_event_created FROM coverage_subscriptions
          WHERE stripe_subscription_id = ${change.stripeSubscriptionId}`
        if (previous !== undefined && change.createdAt < previous.last_event_created) {
          yield* Effect.logInfo("Stripe event older than the last applied one skipped").pipe(
            Effect.annotateLogs({ lastEventCreated: previous.last_event_created.toISOString() })
          )
          return { status: "stale", stripe_subscription_id: change.stripeSubscriptionId } as const
        }

        yield* sql`
          INSERT INTO coverage_subscriptions
            (stripe_subscription_id, company_id, user_id, plan, status, updated_at, last_event_created)
          VALUES (${change.stripeSubscriptionId}, ${companyId}, ${change.userId}, ${change.plan}, ${change.status},
            ${now}, ${change.createdAt})
          ON CONFLICT (stripe_subscription_id) DO UPDATE SET
            company_id = EXCLUDED.company_id,
            user_id = EXCLUDED.user_id,
            plan = EXCLUDED.plan,
            status = EXCLUDED.status,
            updated_at = EXCLUDED.updated_at,
            last_event_created = EXCLUDED.last_event_created`

        const activated = change.status === "active" &&
          (previous === undefined || activatableStatuses.has(previous.status))
        if (activated) {
          // NOTE: the delivery id `coverage_activated:<user_id>:<subscription_id>` names the user, not the Stripe
          // subscription. A later activation of the same user (resumed after a pause, or on a new Stripe
          // subscription) therefore repeats the first delivery id, and the outbox drops it for every webhook
          // subscription that already has that id. The event itself is still recorded in `events`.
          yield* events.publish("coverage.subscription_activated", companyId, change.createdAt, {
            user_id: change.userId,
            plan: change.plan,
            stripe_subscription_id: change.stripeSubscriptionId,
            activated_at: change.createdAt
          })
          yield* Effect.logInfo("Coverage subscription activated")
        }

        return {
          status: "processed",
          stripe_subscription_id: change.stripeSubscriptionId,
          subscription_status: change.status,
          activated
        } as const
      })

    /**
     * Records the subscription status that `change` carries. Returns
     * `ignored` when the metadata names no user of ours, `duplicate` for an
     * event id applied before and `stale` for an event created before the
     * last one applied to the subscription.
     */
    const apply = (change: SubscriptionChange) => {
      const annotations = {
        stripeEventId: change.eventId,
        stripeSubscriptionId: change.stripeSubscriptionId,
        subscriptionStatus: change.status
      }
      return Effect.gen(function*() {
        const companyId = yield* findCompanyOfUser(change.userId)
        if (companyId === undefined) {
          yield* Effect.logWarning("Stripe subscription names an unknown user").pipe(
            Effect.annotateLogs({ userId: change.userId })
          )
          return { status: "ignored" } as StripeWebhookOutcome
        }
        const outcome: StripeWebhookOutcome = yield* sql.withTransaction(applyLocked(change, companyId))
        return outcome
      }).pipe(
        Effect.annotateLogs(annotations),
        Effect.withSpan("CoverageActivations.apply", { attributes: annotations })
      )
    }

    return { apply } as const
  })
}) {}
