import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, Conflict, NotFound } from "../ApiErrors.ts"
import { eventKinds, isEventKind } from "../events/EventKinds.ts"
import { Events, type FieldsOf } from "../events/Events.ts"
import { characterCount } from "../Json.ts"
import { decodeCursor, invalidCursor, type ListParams, toPage } from "../Pagination.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { randomBase62 } from "../platform/Secrets.ts"
import type {
  CreatedSubscription,
  CreateSubscription,
  Subscription,
  SubscriptionId,
  SubscriptionStatus,
  UpdateSubscription
} from "./Api.ts"
import { Outbox } from "./Outbox.ts"
import { privateHostReason } from "./PrivateTargets.ts"

/** Maximum length of a subscription URL, in characters. */
export const maxUrlLength = 2048

/** Maximum length of a subscription description, in characters. */
export const maxDescriptionLength = 500

/** A `webhook_subscriptions` row as the queries of this module select it. */
interface SubscriptionRow {
  readonly id: string
  readonly url: string
  readonly event_kinds: ReadonlyArray<string>
  readonly description: string | null
  readonly status: SubscriptionStatus
  readonly created_at: Date
  readonly updated_at: Date
}

const badRequest = (field: string, message: string) => new BadRequest({ field, message })

/** Returns whether `id` can be a subscription id, `sub_` and base62 letters, the id part of a list cursor. */
const isSubscriptionId = (id: string): boolean => /^sub_[0-9A-Za-z]{1,64}$/.test(id)

/**
 * Validates a subscription URL: an absolute `http:` or `https:` URL of at most
 * 2048 characters, written with `//` and a host after the scheme, without
 * spaces, control characters, backslashes, credentials, port 0 or a port past
 * 65535. Unless `allowPrivateTargets`, its host must not be `localhost` or a
 * loopback, private or reserved IP address (`privateHostReason`). A host name that
 * resolves to such an address passes here, and the sender refuses it when it
 * resolves it. Returns the URL without surrounding whitespace.
 */
export const validateUrl = (value: string, allowPrivateTargets: boolean): Effect.Effect<string, BadRequest> => {
  const url = value.trim()
  if (url === "") {
    return Effect.fail(badRequest("url", "url is missing: give an absolute http or https URL."))
  }
  if (url.length > maxUrlLength) {
    return Effect.fail(badRequest("url", `url is ${url.length} characters long; the maximum is ${maxUrlLength}.`))
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // The parser rejects a port past 65535 like any other malformed URL.
    const port = /^https?:\/\/(?:[^/?#@]*@)?(?:\[[^\]/?#]*\]|[^/?#:]*):(\d+)(?:[/?#]|$)/i.exec(url)?.[1]
    if (port !== undefined && Number(port) > 65535) {
      return Effect.fail(badRequest("url", `url '${url}' has port ${port}: give a port from 1 to 65535, or none for the default.`))
    }
    return Effect.fail(badRequest(
      "url",
      `url '${url}' is not an absolute URL: give one such as https://example.com/saleslab/webhook.`
    ))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Effect.fail(badRequest("url", `url must use http or https, not '${parsed.protocol}'.`))
  }
  // The URL parser drops tabs and line breaks, reads a backslash as a slash
  // and finds a host after any number of slashes. Such a URL would be stored
  // as one text and sent to another.
  const unusable = /[\u0000-\u0020\u007f]/.exec(url)
  if (unusable !== null) {
    const character = `U+${unusable[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`
    return Effect.fail(badRequest("url", `url contains ${character}: encode spaces and control characters, such as %20 for a space.`))
  }
  if (url.includes("\\")) {
    return Effect.fail(badRequest("url", `url '${url}' contains a backslash: use slashes, or %5C inside the path.`))
  }
  if (!/^https?:\/\/[^/]/i.test(url)) {
    return Effect.fail(badRequest(
      "url",
      `url '${url}' must have two slashes and then a host after the scheme, such as https://example.com/saleslab/webhook.`
    ))
  }
  // No host listens on port 0, so every delivery to it would fail.
  if (parsed.port === "0") {
    return Effect.fail(badRequest("url", `url '${url}' has port 0: give a port from 1 to 65535, or none for the default.`))
  }
  // Deliveries authenticate with their signature; credentials in the URL could
  // not be sent by the HTTP client and would show up in delivery errors.
  if (parsed.username !== "" || parsed.password !== "") {
    return Effect.fail(badRequest(
      "url",
      "url must not contain a user name or password; deliveries are authenticated by their x-saleslab-signature header."
    ))
  }
  const privateReason = allowPrivateTargets ? undefined : privateHostReason(parsed.hostname)
  if (privateReason !== undefined) {
    return Effect.fail(badRequest(
      "url",
      `url '${url}' points at a private target: ${privateReason}. Give a URL whose host is reachable on the public internet.`
    ))
  }
  return Effect.succeed(url)
}

/** Validates a list of event kinds and returns it without duplicates. The error lists every valid kind. */
export const validateEventKinds = (kinds: ReadonlyArray<string>): Effect.Effect<Array<string>, BadRequest> => {
  const unknown = kinds.filter((kind) => !isEventKind(kind))
  if (unknown.length > 0) {
    return Effect.fail(badRequest(
      "event_kinds",
      `event_kinds contains unknown kinds: ${unknown.join(", ")}. Valid kinds: ${eventKinds.join(", ")}.`
    ))
  }
  return Effect.succeed([...new Set(kinds)])
}

/** Validates a description of at most 500 characters. An absent or blank one becomes null. */
export const validateDescription = (value: string | null): Effect.Effect<string | null, BadRequest> => {
  if (value === null || value.trim() === "") return Effect.succeed(null)
  const length = characterCount(value)
  if (length > maxDescriptionLength) {
    return Effect.fail(badRequest(
      "description",
      `description is ${length} characters long; the maximum is ${maxDescriptionLength}.`
    ))
  }
  return Effect.succeed(value)
}

/** Validates a status set through the API, where only `active` and `paused` may be chosen. */
export const validateStatus = (value: string): Effect.Effect<"active" | "paused", BadRequest> =>
  value === "active" || value === "paused"
    ? Effect.succeed(value)
    : Effect.fail(badRequest("status", `status must be active or paused, not '${value}'.`))

const toSubscription = (row: SubscriptionRow): Subscription => ({
  id: row.id as SubscriptionId,
  url: row.url,
  event_kinds: row.event_kinds,
  description: row.description,
  status: row.status,
  created_at: row.created_at,
  updated_at: row.updated_at
})

/** The same 404 for an unknown id, a deleted subscription and another tenant's subscription. */
export const subscriptionNotFound = (id: string) =>
  new NotFound({ message: `Webhook subscription '${id}' was not found.` })

/** Fields of the synthetic `session.scorecard_finalized` of a test event; its text fields state that it is a test. */
const testScorecardFields = (scorecardId: string): FieldsOf<"session.scorecard_finalized"> => ({
  session_id: randomUUID(),
  user_id: randomUUID(),
  scorecard: {
    id: scorecardId,
    overall_score: 87,
    verdict: "pass",
    headline: "Test event from Sales Lab",
    category_scores: { discovery: 9, objection_handling: 8, control: 8 },
    best_line: "Test event: this line stands in for the rep's best line.",
    worst_line: "Test event: this line stands in for the rep's worst line.",
    next_drill: "Test event: no practice session took place."
  }
})

/**
 * Webhook subscriptions of each tenant: create, read, change and soft-delete
 * them, and queue test events. Every method takes the tenant's company id and
 * treats another tenant's subscription as unknown. SQL failures are defects,
 * for which the server responds with an opaque 500.
 */
export class Subscriptions extends Effect.Service<Subscriptions>()("saleslab/Subscriptions", {
  dependencies: [Outbox.Default, Events.Default],
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const outbox = yield* Outbox
    const events = yield* Events
    const { allowPrivateTargets } = yield* AppConfig

    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

    /** Selects a live subscription of the tenant, locking its row when `forUpdate` is set. */
    const findRow = (companyId: string, id: string, forUpdate = false) =>
      sql<SubscriptionRow>`
        SELECT id, url, event_kinds, description, status, created_at, updated_at
        FROM webhook_subscriptions
        WHERE id = ${id} AND company_id = ${companyId} AND deleted_at IS NULL
        ${forUpdate ? sql`FOR UPDATE` : sql``}`.pipe(
        Effect.orDie,
        Effect.flatMap((rows) => rows[0] === undefined ? Effect.fail(subscriptionNotFound(id)) : Effect.succeed(rows[0]))
      )

    /** Creates an active subscription and returns it with its signing secret, which is never returned again. */
    const create = (companyId: string, input: CreateSubscription) =>
      Effect.gen(function*() {
        const url = yield* validateUrl(input.url, allowPrivateTargets)
        const kinds = yield* validateEventKinds(input.event_kinds ?? [])
        const description = yield* validateDescription(input.description ?? null)

        const id = `sub_${randomBase62(24)}`
        const secret = `sl_whsec_${randomBase62(40)}`
        // A Clock time has millisecond precision, like the list cursor, so paging
        // compares `created_at` exactly. The column default now() has microseconds.
        const createdAt = yield* now
        const rows = yield* sql<SubscriptionRow>`
          INSERT INTO webhook_subscriptions
            (id, company_id, url, event_kinds, description, status, secret, created_at, updated_at)
          VALUES
            (${id}, ${companyId}, ${url}, ${kinds}, ${description}, 'active', ${secret}, ${createdAt}, ${createdAt})
          RETURNING id, url, event_kinds, description, status, created_at, updated_at`.pipe(Effect.orDie)

        yield* Effect.logInfo("Webhook subscription created").pipe(Effect.annotateLogs({ subscriptionId: id }))
        const created: CreatedSubscription = { ...toSubscription(rows[0]!), secret }
        return created
      }).pipe(Effect.withSpan("Subscriptions.create", { attributes: { companyId } }))

    /** Lists the tenant's live subscriptions, newest first. */
    const list = (companyId: string, params: ListParams) =>
      Effect.gen(function*() {
        const position = params.cursor === undefined ? undefined : decodeCursor(params.cursor, isSubscriptionId)
        if (params.cursor !== undefined && position === undefined) return yield* invalidCursor()
        const rows = yield* sql<SubscriptionRow>`
          SELECT id, url, event_kinds, description, status, created_at, updated_at
          FROM webhook_subscriptions
          WHERE company_id = ${companyId} AND deleted_at IS NULL
          ${position === undefined ? sql`` : sql`AND (created_at, id) < (${position.createdAt}, ${position.id})`}
          ORDER BY created_at DESC, id DESC
          LIMIT ${params.limit + 1}`.pipe(Effect.orDie)
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.id }), toSubscription)
      }).pipe(Effect.withSpan("Subscriptions.list", { attributes: { companyId } }))

    /** Returns one live subscription of the tenant. */
    const get = (companyId: string, id: string) =>
      findRow(companyId, id).pipe(
        Effect.map(toSubscription),
        Effect.withSpan("Subscriptions.get", { attributes: { companyId, subscriptionId: id } })
      )

    /**
     * Changes the given fields and `updated_at`. Setting a paused or disabled
     * subscription active wakes the dispatcher, so that the deliveries that
     * waited meanwhile go out. A new URL or a pause is announced to the
     * runner draining the subscription, which then claims its rows again
     * with the new settings, after the attempts in flight.
     */
    const update = (companyId: string, id: string, patch: UpdateSubscription) =>
      Effect.gen(function*() {
        const url = patch.url === undefined ? undefined : yield* validateUrl(patch.url, allowPrivateTargets)
        const kinds = patch.event_kinds === undefined ? undefined : yield* validateEventKinds(patch.event_kinds)
        const description = patch.description === undefined ? undefined : yield* validateDescription(patch.description)
        const status = patch.status === undefined ? undefined : yield* validateStatus(patch.status)

        const current = yield* findRow(companyId, id, true)
        const updatedAt = yield* now
        const rows = yield* sql<SubscriptionRow>`
          UPDATE webhook_subscriptions SET
            url = ${url ?? current.url},
            event_kinds = ${kinds ?? current.event_kinds},
            description = ${description === undefined ? current.description : description},
            status = ${status ?? current.status},
            updated_at = ${updatedAt}
          WHERE id = ${id} AND company_id = ${companyId}
          RETURNING id, url, event_kinds, description, status, created_at, updated_at`.pipe(Effect.orDie)

        if (status !== undefined && status !== current.status) {
          yield* Effect.logInfo("Webhook subscription status changed").pipe(
            Effect.annotateLogs({ subscriptionId: id, from: current.status, to: status })
          )
          if (status === "active") yield* outbox.wake(id).pipe(Effect.orDie)
        }
        const urlChanged = url !== undefined && url !== current.url
        const stopped = status !== undefined && status !== "active" && current.status === "active"
        if (urlChanged || stopped) yield* outbox.announceChange(id).pipe(Effect.orDie)
        return toSubscription(rows[0]!)
      }).pipe(
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die),
        Effect.withSpan("Subscriptions.update", { attributes: { companyId, subscriptionId: id } })
      )

    /**
     * Soft-deletes a subscription and cancels its pending deliveries in the
     * same transaction. The runner draining it stops starting attempts once
     * the change commits, and attempts already in flight finish.
     */
    const remove = (companyId: string, id: string) =>
      Effect.gen(function*() {
        const deletedAt = yield* now
        const deleted = yield* sql`
          UPDATE webhook_subscriptions SET deleted_at = ${deletedAt}, updated_at = ${deletedAt}
          WHERE id = ${id} AND company_id = ${companyId} AND deleted_at IS NULL
          RETURNING id`.pipe(Effect.orDie)
        if (deleted.length === 0) return yield* Effect.fail(subscriptionNotFound(id))

        const cancelled = yield* outbox.cancelPending(id).pipe(Effect.orDie)
        yield* outbox.announceChange(id).pipe(Effect.orDie)
        yield* Effect.logInfo("Webhook subscription deleted").pipe(
          Effect.annotateLogs({ subscriptionId: id, cancelledDeliveries: cancelled })
        )
      }).pipe(
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die),
        Effect.withSpan("Subscriptions.remove", { attributes: { companyId, subscriptionId: id } })
      )

    /**
     * Queues a synthetic `session.scorecard_finalized` delivery for this
     * subscription only, whatever its event kinds. Returns its delivery id,
     * `scorecard.finalized:<scorecard id>:<subscription id>` like a real one.
     * Fails with 409 unless the subscription is active.
     */
    const sendTest = (companyId: string, id: string) =>
      Effect.gen(function*() {
        const subscription = yield* findRow(companyId, id, true)
        if (subscription.status !== "active") {
          return yield* Effect.fail(
            new Conflict({
              message:
                `Webhook subscription '${id}' is ${subscription.status}. Set its status to active before sending a test event.`
            })
          )
        }

        const { deliveryId, payload } = events.render(
          "session.scorecard_finalized",
          companyId,
          testScorecardFields(randomUUID()),
          id
        )
        yield* outbox.enqueue({ subscriptionId: id, companyId, kind: "session.scorecard_finalized", deliveryId, payload })
          .pipe(Effect.orDie)
        return { delivery_id: deliveryId }
      }).pipe(
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die),
        Effect.withSpan("Subscriptions.sendTest", { attributes: { companyId, subscriptionId: id } })
      )

    return { create, list, get, update, remove, sendTest } as const
  })
}) {}
