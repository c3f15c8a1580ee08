import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { randomBase62, sha256Hex } from "../../src/platform/Secrets.ts"
import type { Scope } from "../../src/tenancy/Security.ts"

/**
 * Inserts a company and one API token for it straight into the database and
 * returns the company id and the bearer token. Scopes default to all three.
 */
export const createTenant = (name: string, scopes: ReadonlyArray<Scope> = ["read", "write", "admin"]) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const companyId = randomUUID()
    const token = `sl_token_${randomBase62(40)}`

    yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${name})`
    yield* sql`
      INSERT INTO api_tokens (id, company_id, name, scopes, token_hash, token_prefix)
      VALUES (${randomUUID()}, ${companyId}, ${`${name} test token`}, ${scopes}, ${sha256Hex(token)}, ${token.slice(0, 13)})`
    return { companyId, token }
  })
