import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import { AppConfig } from "./AppConfig.ts"
import { startEmbeddedPostgres } from "./EmbeddedPostgres.ts"
import { Migrations } from "./Migrations.ts"

/**
 * The PostgreSQL client of the service: the server named by `DATABASE_URL`,
 * or an embedded server in `DATA_DIR` when none is configured. The schema is
 * migrated before the layer is ready.
 */
export const DatabaseLive = Layer.unwrapScoped(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const url = Option.isSome(config.databaseUrl)
      ? config.databaseUrl.value
      : yield* startEmbeddedPostgres(config.dataDirectory)
    return PgClient.layer({ url, applicationName: "saleslab-platform", maxConnections: 20 })
  })
)

/** The client with migrations applied, which is what every capability needs. */
export const DatabaseMigrated = Migrations.layer.pipe(Layer.provideMerge(DatabaseLive))
