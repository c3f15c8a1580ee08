import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Conflict, NotFound } from "../ApiErrors.ts"
import { type ListParams, toPage } from "../Pagination.ts"
import { randomBase62, sha256Hex } from "../platform/Secrets.ts"
import type { ApiToken, ApiTokenId, CompanyId, MintedApiToken, UserId } from "./Api.ts"
import { parseCursor } from "./internal/cursor.ts"
import { orInternalError } from "./internal/databaseFailure.ts"
import type { Scope } from "./Security.ts"

/** Text every API token starts with. */
export const tokenMarker = "sl_token_"

/** Number of random base62 characters after `sl_token_` in a minted token. */
const tokenRandomLength = 40

/** Number of leading characters of a token kept in clear text, to tell tokens apart in lists. */
const tokenPrefixLength = 12

/** Scopes of a minted token when the request names none. */
export const defaultScopes: ReadonlyArray<Scope> = ["read", "write"]

/** Scopes in the order they are stored and returned. */
const scopeOrder: ReadonlyArray<Scope> = ["read", "write", "admin"]

/** Removes duplicates and puts scopes in the canonical order, so equal sets compare equal. */
const normalizeScopes = (scopes: ReadonlyArray<Scope>): Array<Scope> =>
  scopeOrder.filter((scope) => scopes.includes(scope))

interface TokenRow {
  readonly id: ApiTokenId
  readonly name: string
  readonly scopes: ReadonlyArray<Scope>
  readonly token_prefix: string
  readonly default_user_id: UserId | null
  readonly created_at: Date
  readonly last_used_at: Date | null
  readonly revoked_at: Date | null
}

/** Columns of a token as listed, in the order of `TokenRow`. */
const listedColumns = "id, name, scopes, token_prefix, default_user_id, created_at, last_used_at, revoked_at"

/** A token found by its text, with its company, whether revoked or not. */
export interface TokenOwner {
  readonly tokenId: ApiTokenId
  readonly tokenName: string
  readonly scopes: ReadonlyArray<Scope>
  readonly defaultUserId: UserId | null
  readonly companyId: CompanyId
  readonly companyName: string
  readonly lastUsedAt: Date | null
  readonly revokedAt: Date | null
}

/**
 * The API tokens of each company. Only the SHA-256 of a token's text is
 * stored, so a token cannot be shown again after it is minted.
 */
export class ApiTokens extends Effect.Service<ApiTokens>()("saleslab/ApiTokens", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Inserts a new token and returns it with its text. Fails only with
     * `SqlError`, so that callers can run it inside their own transaction.
     * A `defaultUserId` outside the company violates a foreign key, so
     * callers check it first with `requireCompanyUser`.
     */
    const insert = (
      companyId: CompanyId,
      name: string,
      scopes: ReadonlyArray<Scope>,
      defaultUserId: UserId | null = null
    ) =>
      Effect.gen(function*() {
        const token = `${tokenMarker}${randomBase62(tokenRandomLength)}`
        const minted: MintedApiToken = {
          id: randomUUID() as ApiTokenId,
          name,
          scopes: normalizeScopes(scopes),
          token,
          token_prefix: token.slice(0, tokenPrefixLength),
          default_user_id: defaultUserId,
          created_at: new Date(yield* Clock.currentTimeMillis)
        }
        yield* sql`
          INSERT INTO api_tokens (id, company_id, name, scopes, token_hash, token_prefix, default_user_id, created_at)
          VALUES (${minted.id}, ${companyId}, ${name}, ${minted.scopes}, ${sha256Hex(token)},
                  ${minted.token_prefix}, ${defaultUserId}, ${minted.created_at})`
        return minted
      })

    /**
     * Fails with `NotFound` unless `userId` is a user of the company. No
     * route or job deletes users, so the check stays valid for the rest of the request.
     */
    const requireCompanyUser = (companyId: CompanyId, userId: UserId) =>
      Effect.gen(function*() {
        const rows = yield* sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`
        if (rows.length === 0) {
          return yield* Effect.fail(
            new NotFound({
              message: `No user with id ${userId} exists in this company, so it cannot be the token's default_user_id. ` +
                "List the company's users with GET /v1/users."
            })
          )
        }
      })

    /** Mints a token for a company. Fails with `NotFound` when `defaultUserId` is not a user of the company. */
    const mint = (
      companyId: CompanyId,
      name: string,
      scopes: ReadonlyArray<Scope>,
      defaultUserId: UserId | null = null
    ) =>
      Effect.gen(function*() {
        if (defaultUserId !== null) yield* requireCompanyUser(companyId, defaultUserId)

        const minted = yield* insert(companyId, name, scopes, defaultUserId)
        yield* Effect.logInfo("API token minted").pipe(
          Effect.annotateLogs({
            company_id: companyId,
            token_id: minted.id,
            scopes: minted.scopes,
            default_user_id: defaultUserId
          })
        )
        return minted
      }).pipe(orInternalError, Effect.withSpan("ApiTokens.mint", { attributes: { company_id: companyId } }))

    /** Lists a company's tokens, revoked ones included, newest first. */
    const list = (companyId: CompanyId, params: ListParams) =>
      Effect.gen(function*() {
        const after = yield* parseCursor(params.cursor)
        const rows = yield* sql<TokenRow>`
          SELECT ${sql.unsafe(listedColumns)}
          FROM api_tokens
          WHERE company_id = ${companyId}
            ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.createdAt}, ${after.id})`}
          ORDER BY created_at DESC, id DESC
          LIMIT ${params.limit + 1}`
        return toPage(rows, params.limit, (row) => ({ createdAt: row.created_at, id: row.id }), (row): ApiToken => row)
      }).pipe(orInternalError, Effect.withSpan("ApiTokens.list", { attributes: { company_id: companyId } }))

    /**
     * Revokes a token of the company, so that the next request that presents
     * it is rejected. Revoking a revoked token keeps its first revocation time.
     * Fails with `NotFound` for an unknown id or another company's token.
     */
    const revoke = (companyId: CompanyId, tokenId: ApiTokenId) =>
      Effect.gen(function*() {
        const now = new Date(yield* Clock.currentTimeMillis)
        const rows = yield* sql<{ id: string }>`
          UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${now})
          WHERE id = ${tokenId} AND company_id = ${companyId}
          RETURNING id`
        if (rows.length === 0) {
          return yield* Effect.fail(new NotFound({ message: `No API token with id ${tokenId} exists in this company.` }))
        }
        yield* Effect.logInfo("API token revoked").pipe(
          Effect.annotateLogs({ company_id: companyId, token_id: tokenId })
        )
      }).pipe(
        orInternalError,
        Effect.withSpan("ApiTokens.revoke", { attributes: { company_id: companyId, token_id: tokenId } })
      )

    /**
     * Sets the default rep of a token of the company, or removes it when
     * `defaultUserId` is null, and returns the token as listed. Fails with
     * `NotFound` for an unknown id, another company's token or a user outside
     * the company, and with `Conflict` for a revoked token.
     */
    const setDefaultUser = (companyId: CompanyId, tokenId: ApiTokenId, defaultUserId: UserId | null) =>
      Effect.gen(function*() {
        const unknownToken = new NotFound({ message: `No API token with id ${tokenId} exists in this company.` })
        const revokedToken = new Conflict({
          message: `API token ${tokenId} is revoked, so its default_user_id cannot change. ` +
            "Mint a new token with POST /v1/api-tokens instead."
        })

        const [current] = yield* sql<{ revoked_at: Date | null }>`
          SELECT revoked_at FROM api_tokens WHERE id = ${tokenId} AND company_id = ${companyId}`
        if (current === undefined) return yield* Effect.fail(unknownToken)
        if (current.revoked_at !== null) return yield* Effect.fail(revokedToken)
        if (defaultUserId !== null) yield* requireCompanyUser(companyId, defaultUserId)

        // The revocation check is repeated here because a revoke may commit after the read above.
        const [updated] = yield* sql<TokenRow>`
          UPDATE api_tokens SET default_user_id = ${defaultUserId}
          WHERE id = ${tokenId} AND company_id = ${companyId} AND revoked_at IS NULL
          RETURNING ${sql.unsafe(listedColumns)}`
        if (updated === undefined) return yield* Effect.fail(revokedToken)

        yield* Effect.logInfo("API token default rep changed").pipe(
          Effect.annotateLogs({ company_id: companyId, token_id: tokenId, default_user_id: defaultUserId })
        )
        const token: ApiToken = updated
        return token
      }).pipe(
        orInternalError,
        Effect.withSpan("ApiTokens.setDefaultUser", { attributes: { company_id: companyId, token_id: tokenId } })
      )

    /**
     * Looks a token up by the hash of its text, on every call: nothing is
     * cached, so a revocation applies to the very next request.
     */
    const findByText = (token: string) =>
      sql<{
        id: ApiTokenId
        name: string
        scopes: ReadonlyArray<Scope>
        default_user_id: UserId | null
        last_used_at: Date | null
        revoked_at: Date | null
        company_id: CompanyId
        company_name: string
      }>`
        SELECT t.id, t.name, t.scopes, t.default_user_id, t.last_used_at, t.revoked_at,
               c.id AS company_id, c.name AS company_name
        FROM api_tokens t JOIN companies c ON c.id = t.company_id
        WHERE t.token_hash = ${sha256Hex(token)}`.pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row): TokenOwner => ({
            tokenId: row.id,
            tokenName: row.name,
            scopes: row.scopes,
            defaultUserId: row.default_user_id,
            companyId: row.company_id,
            companyName: row.company_name,
            lastUsedAt: row.last_used_at,
            revokedAt: row.revoked_at
          }))
        ),
        orInternalError,
        Effect.withSpan("ApiTokens.findByText")
      )

    /**
     * Records that a token was used now. Writes at most once a minute per
     * token: the caller skips the statement while `lastUsedAt` is recent, and
     * the `WHERE` clause keeps concurrent requests from writing twice.
     */
    const recordUse = (owner: TokenOwner) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (owner.lastUsedAt !== null && now - owner.lastUsedAt.getTime() < 60_000) return
        yield* sql`
          UPDATE api_tokens SET last_used_at = ${new Date(now)}
          WHERE id = ${owner.tokenId}
            AND (last_used_at IS NULL OR last_used_at < ${new Date(now - 60_000)})`
      }).pipe(orInternalError, Effect.withSpan("ApiTokens.recordUse", { attributes: { token_id: owner.tokenId } }))

    return { insert, mint, list, setDefaultUser, revoke, findByText, recordUse } as const
  })
}) {}
