import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { Conflict } from "../ApiErrors.ts"
import { type ListParams, toPage } from "../Pagination.ts"
import type { CompanyId, Role, User, UserId } from "./Api.ts"
import { parseCursor } from "./internal/cursor.ts"
import { orInternalError } from "./internal/databaseFailure.ts"

/** A user to create. The email is already trimmed and lower-cased, and the role defaults to rep. */
export interface NewUser {
  readonly email: string
  readonly name: string
  readonly role?: Role | undefined
}

/** The users of each company: the reps, managers and admins who practise and coach. */
export class Users extends Effect.Service<Users>()("saleslab/Users", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** Creates a user, or fails with `Conflict` when the email is already used in the company. */
    const create = (companyId: CompanyId, input: NewUser) =>
      Effect.gen(function*() {
        const user: User = {
          id: randomUUID() as UserId,
          email: input.email,
          name: input.name,
          role: input.role ?? "rep",
          created_at: new Date(yield* Clock.currentTimeMillis)
        }
        const inserted = yield* sql`
          INSERT INTO users (id, company_id, email, name, role, created_at)
          VALUES (${user.id}, ${companyId}, ${user.email}, ${user.name}, ${user.role}, ${user.created_at})
          ON CONFLICT (company_id, email) DO NOTHING
          RETURNING id`
        if (inserted.length === 0) {
          return yield* Effect.fail(
            new Conflict({ message: `A user with email ${input.email} already exists in this company.` })
          )
        }
        return user
      }).pipe(orInternalError, Effect.withSpan("Users.create", { attributes: { company_id: companyId } }))

    /** Lists a company's users, newest first. */
    const list = (companyId: CompanyId, params: ListParams) =>
      Effect.gen(function*() {
        const after = yield* parseCursor(params.cursor)
        const rows = yield* sql<User>`
          SELECT id, email, name, role, created_at
          FROM users
          WHERE company_id = ${companyId}
            ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.createdAt}, ${after.id})`}
          ORDER BY created_at DESC, id DESC
          LIMIT ${params.limit + 1}`
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.id }), (row) => row)
      }).pipe(orInternalError, Effect.withSpan("Users.list", { attributes: { company_id: companyId } }))

    return { create, list } as const
  })
}) {}
