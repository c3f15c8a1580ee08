import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { fileURLToPath } from "node:url"
import { migrate, readMigrations } from "../../src/platform/Migrations.ts"
import { databaseUrl, freshDatabase } from "../support/TestDatabase.ts"

const folder = fileURLToPath(new URL("../../sql", import.meta.url))

const clientFor = (name: string) => PgClient.layer({ url: Redacted.make(databaseUrl(name)), maxConnections: 4 })

describe("Migrations", () => {
  it("reads numbered files in order", () => {
    const migrations = readMigrations(folder)
    expect(migrations.length).toBeGreaterThan(0)
    expect(migrations.map((migration) => migration.id)).toEqual([...migrations.map((migration) => migration.id)].sort((a, b) => a - b))
    expect(migrations[0]!.name).toBe("init")
  })

  it.scoped("two processes migrating at once apply each file once", () =>
    Effect.gen(function*() {
      const name = yield* freshDatabase
      const migrations = readMigrations(folder)
      const run = migrate(migrations).pipe(Effect.provide(clientFor(name)))

      yield* Effect.all([run, run, run], { concurrency: "unbounded" })

      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ id: number }>`SELECT id FROM schema_migrations ORDER BY id`).pipe(Effect.provide(clientFor(name)))
      expect(rows.map((row) => row.id)).toEqual(migrations.map((migration) => migration.id))
    }))
})
