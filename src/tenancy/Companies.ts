import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { CompanyId, CreatedCompany } from "./Api.ts"
import { ApiTokens } from "./ApiTokens.ts"
import { orInternalError } from "./internal/databaseFailure.ts"

/** Name of the token minted with every new company. */
export const initialTokenName = "Initial admin token"

/** The tenants of the service. Only operators create them. */
export class Companies extends Effect.Service<Companies>()("saleslab/Companies", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const apiTokens = yield* ApiTokens

    /**
     * Creates a company and its first token, with scopes read, write and
     * admin, in one transaction: a company never exists without a way in.
     */
    const create = (name: string) =>
      Effect.gen(function*() {
        const company = {
          id: randomUUID() as CompanyId,
          name,
          created_at: new Date(yield* Clock.currentTimeMillis)
        }
        yield* sql`INSERT INTO companies (id, name, created_at) VALUES (${company.id}, ${name}, ${company.created_at})`
        const token = yield* apiTokens.insert(company.id, initialTokenName, ["read", "write", "admin"])
        return { company, admin_token: token.token } satisfies CreatedCompany
      }).pipe(
        sql.withTransaction,
        Effect.tap(({ company }) => Effect.logInfo("Company created").pipe(Effect.annotateLogs({ company_id: company.id }))),
        orInternalError,
        Effect.withSpan("Companies.create")
      )

    return { create } as const
  }),
  dependencies: [ApiTokens.Default]
}) {}
