import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { SalesLabApi } from "../Api.ts"
import { NotReady } from "./HealthApi.ts"

/** Handlers of the probes. Readiness runs a query against the database. */
export const HealthHttpLive = HttpApiBuilder.group(SalesLabApi, "health", (handlers) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        sql`SELECT 1 FROM schema_migrations LIMIT 1`.pipe(
          Effect.as({ status: "ok" as const }),
          Effect.timeout("2 seconds"),
          Effect.catchAll(() => Effect.fail(new NotReady({ message: "The database is not reachable yet." })))
        ))
  }))
