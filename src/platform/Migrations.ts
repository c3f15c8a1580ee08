import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** One numbered SQL file from `sql/`, such as `0001_init.sql`. */
export interface Migration {
  readonly id: number
  readonly name: string
  readonly sql: string
}

const migrationFile = /^(\d{4})_([a-z0-9_]+)\.sql$/

/** Key of the transaction-scoped advisory lock that serialises migrations across processes. */
const migrationLockKey = 7_421_001

/** Reads every migration in `folder`, ordered by number. */
export const readMigrations = (folder: string): ReadonlyArray<Migration> =>
  readdirSync(folder)
    .flatMap((file) => {
      const match = migrationFile.exec(file)
      return match === null ? [] : [{ id: Number(match[1]), name: match[2]!, sql: readFileSync(`${folder}/${file}`, "utf8") }]
    })
    .sort((a, b) => a.id - b.id)

/**
 * Returns the `sql` folder of the nearest folder above `start` that has one.
 * The same search finds the project's `sql/` from `src/platform/` under tsx
 * or Deno and from `dist/` in the bundle that `npm start` runs.
 */
export const findSqlFolder = (start: string): string => {
  for (let folder = start;; folder = dirname(folder)) {
    const candidate = join(folder, "sql")
    if (existsSync(candidate)) return candidate
    if (dirname(folder) === folder) throw new Error(`No sql folder above ${start}`)
  }
}

const defaultFolder = () => findSqlFolder(dirname(fileURLToPath(import.meta.url)))

/**
 * Applies the migrations that are not yet recorded in `schema_migrations`, all
 * in one transaction under an advisory lock: a second process starting at the
 * same time waits for the first, then finds nothing left to apply.
 */
export const migrate = (migrations: ReadonlyArray<Migration>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const applied = yield* Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(${migrationLockKey})`
      yield* sql`CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`
      const done = new Set((yield* sql<{ id: number }>`SELECT id FROM schema_migrations`).map((row) => row.id))
      const pending = migrations.filter((migration) => !done.has(migration.id))
      for (const migration of pending) {
        yield* sql.unsafe(migration.sql)
        yield* sql`INSERT INTO schema_migrations (id, name) VALUES (${migration.id}, ${migration.name})`
      }
      return pending.map((migration) => migration.name)
    }).pipe(sql.withTransaction)

    yield* Effect.logInfo("Migrations applied").pipe(Effect.annotateLogs({ applied, total: migrations.length }))
  }).pipe(Effect.withSpan("Migrations.migrate"))

/** Runs the migrations of `sql/` when the layer is built. */
export class Migrations {
  static readonly layer = Layer.effectDiscard(Effect.suspend(() => migrate(readMigrations(defaultFolder())))).pipe(
    Layer.orDie
  )
}
