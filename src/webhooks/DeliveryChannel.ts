import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The PostgreSQL channel on which the outbox announces subscriptions with
 * new due deliveries and changed subscriptions. Its name is random per
 * database and read from `service_secrets`, because PostgreSQL lets any
 * connected role listen on or notify any channel by name.
 */
export class DeliveryChannel extends Effect.Service<DeliveryChannel>()("saleslab/DeliveryChannel", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ value: string }>`SELECT value FROM service_secrets WHERE name = 'delivery_channel'`.pipe(
      Effect.orDie
    )
    const name = rows[0]?.value
    if (name === undefined) return yield* Effect.dieMessage("The delivery channel is missing from service_secrets; run the migrations")
    return { name } as const
  })
}) {}
