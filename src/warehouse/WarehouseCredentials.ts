import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Option } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { Conflict, NotFound } from "../ApiErrors.ts"
import { type ListParams, toPage } from "../Pagination.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { randomBase62 } from "../platform/Secrets.ts"
import type { CompanyId } from "../tenancy/Api.ts"
import { parseCursor } from "../tenancy/internal/cursor.ts"
import { orInternalError } from "../tenancy/internal/databaseFailure.ts"
import type {
  CreatedWarehouseCredential,
  CreateWarehouseCredential,
  WarehouseCredential,
  WarehouseCredentialId
} from "./Api.ts"

/** The group role whose members may read the two warehouse views. */
export const readerRole = "saleslab_warehouse_reader"

/** Prefix of every warehouse login's role name. */
export const loginPrefix = "saleslab_wh_"

/** Shape of every warehouse login's role name: the prefix and 16 hex digits. */
const loginPattern = /^saleslab_wh_[0-9a-f]{16}$/

/** Name of a credential created without one. */
const defaultName = "Warehouse login"

interface CredentialRow {
  readonly id: WarehouseCredentialId
  readonly name: string
  readonly role_name: string
  readonly created_at: Date
  readonly revoked_at: Date | null
}

const toListed = (row: CredentialRow): WarehouseCredential => ({
  id: row.id,
  name: row.name,
  user: row.role_name,
  created_at: row.created_at,
  revoked_at: row.revoked_at
})

/**
 * Per-company PostgreSQL logins that read the warehouse views. A login is a
 * member of `saleslab_warehouse_reader` and nothing else, with a connection
 * limit and a statement timeout. Row-level security, keyed on the login's
 * name, keeps it to its company's rows (see `sql/0009_warehouse.sql`).
 *
 * Creating and dropping roles needs a database user with CREATEROLE, which
 * the embedded PostgreSQL's superuser has.
 */
export class WarehouseCredentials extends Effect.Service<WarehouseCredentials>()("saleslab/WarehouseCredentials", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { warehouse } = yield* AppConfig
    const timeoutMillis = Math.max(1, Math.round(Duration.toMillis(warehouse.statementTimeout)))

    /** Address a login connects to: the configured host and port, else those the service's own connection reaches. */
    const endpoint = Effect.gen(function*() {
      const [server] = yield* sql<{ database: string; host: string | null; port: number | null }>`
        SELECT current_database() AS database, host(inet_server_addr()) AS host, inet_server_port() AS port`
      return {
        host: Option.getOrElse(warehouse.host, () => server?.host ?? "localhost"),
        port: Option.getOrElse(warehouse.port, () => server?.port ?? 5432),
        database: server!.database
      }
    })

    /**
     * Creates a login for the company and returns how to connect with it.
     * The role and its row are created in one transaction, so a failure
     * leaves neither.
     */
    const create = (companyId: CompanyId, input: CreateWarehouseCredential) =>
      Effect.gen(function*() {
        const id = randomUUID() as WarehouseCredentialId
        // Role names and passwords are built from hex and base62 characters only, so they are safe in SQL text.
        const user = `${loginPrefix}${randomBytes(8).toString("hex")}`
        const password = randomBase62(32)
        const createdAt = new Date(yield* Clock.currentTimeMillis)
        const name = input.name ?? defaultName

        yield* Effect.gen(function*() {
          // The company's row lock makes concurrent creations count one after the other.
          yield* sql`SELECT 1 FROM companies WHERE id = ${companyId} FOR UPDATE`
          const [active] = yield* sql<{ count: number }>`
            SELECT count(*)::int AS count FROM warehouse_credentials WHERE company_id = ${companyId} AND revoked_at IS NULL`
          if (active!.count >= warehouse.loginsPerCompany) {
            return yield* new Conflict({
              message: `This company already has ${active!.count} warehouse logins, the maximum. ` +
                "Revoke one with DELETE /v1/warehouse/credentials/{id} first."
            })
          }
          yield* sql`
            INSERT INTO warehouse_credentials (id, company_id, name, role_name, created_at)
            VALUES (${id}, ${companyId}, ${name}, ${user}, ${createdAt})`
          yield* sql.unsafe(
            `CREATE ROLE ${user} LOGIN PASSWORD '${password}' CONNECTION LIMIT ${warehouse.connectionLimit} IN ROLE ${readerRole}`
          )
          yield* sql.unsafe(`ALTER ROLE ${user} SET statement_timeout = ${timeoutMillis}`)
          yield* sql.unsafe(`ALTER ROLE ${user} SET idle_in_transaction_session_timeout = ${timeoutMillis}`)
        }).pipe(sql.withTransaction)

        const where = yield* endpoint
        yield* Effect.logInfo("Warehouse login created").pipe(
          Effect.annotateLogs({ company_id: companyId, credential_id: id, user })
        )
        const created: CreatedWarehouseCredential = { id, ...where, user, password, created_at: createdAt }
        return created
      }).pipe(orInternalError, Effect.withSpan("WarehouseCredentials.create", { attributes: { company_id: companyId } }))

    /** Lists the company's credentials, revoked ones included, newest first. */
    const list = (companyId: CompanyId, params: ListParams) =>
      Effect.gen(function*() {
        const after = yield* parseCursor(params.cursor)
        const rows = yield* sql<CredentialRow>`
          SELECT id, name, role_name, created_at, revoked_at
          FROM warehouse_credentials
          WHERE company_id = ${companyId}
            ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.createdAt}, ${after.id})`}
          ORDER BY created_at DESC, id DESC
          LIMIT ${params.limit + 1}`
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.id }), toListed)
      }).pipe(orInternalError, Effect.withSpan("WarehouseCredentials.list", { attributes: { company_id: companyId } }))

    /**
     * Revokes a credential. One transaction marks it revoked, which alone
     * hides every row from its open sessions, and takes away the role's
     * login. Its open sessions are then ended and the role dropped, with
     * what it owns in this database. A role that owns objects in another
     * database of the server cannot be dropped from here; it stays, without
     * login, and a warning names it. Revoking again changes nothing. Fails
     * with `NotFound` for an unknown id or another company's credential.
     */
    const revoke = (companyId: CompanyId, id: WarehouseCredentialId) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const user = yield* Effect.gen(function*() {
          const rows = yield* sql<{ role_name: string }>`
            UPDATE warehouse_credentials SET revoked_at = COALESCE(revoked_at, ${now})
            WHERE id = ${id} AND company_id = ${companyId}
            RETURNING role_name`
          const row = rows[0]
          if (row === undefined) {
            return yield* new NotFound({ message: `No warehouse credential with id ${id} exists in this company.` })
          }
          if (!loginPattern.test(row.role_name)) return yield* Effect.dieMessage(`Unexpected warehouse role name ${row.role_name}`)
          const exists = yield* sql`SELECT 1 FROM pg_roles WHERE rolname = ${row.role_name}`
          if (exists.length > 0) yield* sql.unsafe(`ALTER ROLE ${row.role_name} NOLOGIN PASSWORD NULL`)
          return row.role_name
        }).pipe(sql.withTransaction)

        // A role without login keeps its open sessions, so they are ended here.
        yield* sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${user}`
        yield* Effect.gen(function*() {
          const exists = yield* sql`SELECT 1 FROM pg_roles WHERE rolname = ${user}`
          if (exists.length === 0) return
          // Whatever the login owns here, such as default privileges it set, would keep its role from being dropped.
          yield* sql.unsafe(`DROP OWNED BY ${user}`)
          yield* sql.unsafe(`DROP ROLE ${user}`)
        }).pipe(
          sql.withTransaction,
          Effect.catchAll((error) =>
            Effect.logWarning("A revoked warehouse login could not be dropped; it stays without login", error).pipe(
              Effect.annotateLogs({ company_id: companyId, credential_id: id, user })
            )
          )
        )
        yield* Effect.logInfo("Warehouse login revoked").pipe(
          Effect.annotateLogs({ company_id: companyId, credential_id: id, user })
        )
      }).pipe(
        Effect.tapErrorTag("SqlError", (error) =>
          Effect.logError("Revoking a warehouse login failed", error).pipe(
            Effect.annotateLogs({ company_id: companyId, credential_id: id })
          )),
        orInternalError,
        Effect.withSpan("WarehouseCredentials.revoke", { attributes: { company_id: companyId, credential_id: id } })
      )

    return { create, list, revoke } as const
  })
}) {}
