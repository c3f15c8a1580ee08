import { Effect } from "effect"
import { Outbox } from "../webhooks/Outbox.ts"
import { type Catalog, catalog, encodeBody, type EventFields } from "./Catalog.ts"
import type { EventKind } from "./EventKinds.ts"

/** The fields an emit point supplies for an event of `kind`. */
export type FieldsOf<K extends EventKind> = EventFields<Catalog[K]["schema"]>

/** Returns the catalog entry of `kind` with its field types erased, for code that handles every kind alike. */
const erased = (kind: EventKind) => {
  const definition = catalog[kind] as unknown as {
    readonly naturalKey: (fields: unknown) => string
    readonly deliveryId: (fields: unknown, subscriptionId: string) => string
    readonly schema: { readonly fields: Record<string, unknown> }
  }
  return { ...definition, carriesDeliveryId: "delivery_id" in definition.schema.fields }
}

/**
 * Publishes catalog events through the outbox. Bodies are encoded from the
 * kind's schema, so a field that breaks the schema fails the surrounding
 * transaction instead of reaching a subscriber. Run it in the transaction of
 * the write that causes the event.
 */
export class Events extends Effect.Service<Events>()("saleslab/Events", {
  effect: Effect.gen(function*() {
    const outbox = yield* Outbox

    const bodyFor = <K extends EventKind>(kind: K, fields: FieldsOf<K>, companyId: string, deliveryId: string) => {
      const carriesDeliveryId = erased(kind).carriesDeliveryId
      return encodeBody(kind, {
        event_kind: kind,
        company_id: companyId,
        ...fields,
        ...(carriesDeliveryId ? { delivery_id: deliveryId } : {})
      } as never)
    }

    /**
     * Queues an event of `kind` for the matching subscriptions of one tenant.
     * Returns the number of deliveries queued, 0 when it was published before.
     */
    const publish = <K extends EventKind>(kind: K, companyId: string, occurredAt: Date, fields: FieldsOf<K>) => {
      const definition = erased(kind)
      return Effect.suspend(() =>
        outbox.publish({
          companyId,
          kind,
          naturalKey: definition.naturalKey(fields),
          occurredAt,
          deliveryId: (subscriptionId) =>
            definition.deliveryId(fields, subscriptionId),
          payload: (deliveryId) => bodyFor(kind, fields, companyId, deliveryId)
        })
      )
    }

    /**
     * Queues an event of `kind` for the matching subscriptions of every
     * tenant, each body carrying its recipient's company id.
     */
    const broadcast = <K extends EventKind>(kind: K, occurredAt: Date, fields: FieldsOf<K>) => {
      const definition = erased(kind)
      return Effect.suspend(() =>
        outbox.broadcast({
          kind,
          naturalKey: definition.naturalKey(fields),
          occurredAt,
          deliveryId: (subscriptionId) =>
            definition.deliveryId(fields, subscriptionId),
          payload: (companyId, deliveryId) => bodyFor(kind, fields, companyId, deliveryId)
        })
      )
    }

    /** Encodes the body of `kind` for one subscription outside the outbox, as test events need. */
    const render = <K extends EventKind>(kind: K, companyId: string, fields: FieldsOf<K>, subscriptionId: string) => {
      const deliveryId = erased(kind).deliveryId(fields, subscriptionId)
      return { deliveryId, payload: bodyFor(kind, fields, companyId, deliveryId) }
    }

    return { publish, broadcast, render } as const
  }),
  dependencies: [Outbox.Default]
}) {}
