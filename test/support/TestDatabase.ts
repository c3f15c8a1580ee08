import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { inject } from "vitest"
import { Migrations } from "../../src/platform/Migrations.ts"

const serverUrl = () => inject("databaseUrl")

/** Runs `run` with a client of the test server's administrative connection, closed afterwards. */
export const withAdminClient = <A>(run: (client: pg.Client) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: serverUrl() })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => run(client)),
    (client) => Effect.promise(() => client.end())
  )

/** Name of the database of the test server's administrative connection, such as `postgres`. */
export const adminDatabaseName = () => decodeURIComponent(new URL(serverUrl()).pathname.slice(1)) || "postgres"

/** Returns the connection URL of database `name` on the test server. */
export const databaseUrl = (name: string) => {
  const url = new URL(serverUrl())
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * Creates an empty database with a unique name on the test server and drops
 * it when the scope closes. Returns its name.
 */
export const freshDatabase = Effect.acquireRelease(
  Effect.gen(function*() {
    const name = `test_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`
    yield* withAdminClient((client) => client.query(`CREATE DATABASE ${name}`))
    return name
  }),
  (name) => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(Effect.ignore)
)

/** A `PgClient` on a fresh, migrated database that is dropped afterwards. */
export const TestDatabaseLive = Layer.unwrapScoped(
  Effect.map(freshDatabase, (name) =>
    Migrations.layer.pipe(
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(databaseUrl(name)), maxConnections: 10 }))
    ))
)

/** Query that returns the delivery channel's name, random per database, as `value`. */
export const deliveryChannelQuery = "SELECT value FROM service_secrets WHERE name = 'delivery_channel'"
