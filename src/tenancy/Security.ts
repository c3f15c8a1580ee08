import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Effect, Schema } from "effect"
import { Forbidden, InternalError, RateLimited, Unauthorized } from "../ApiErrors.ts"

/** A permission carried by an API token. */
export const Scope = Schema.Literal("read", "write", "admin").annotations({
  identifier: "Scope",
  description: "read: read tenant data; write: create sessions and scenarios; admin: tokens, users and webhooks."
})
export type Scope = typeof Scope.Type

/** The tenant and token behind the current request, provided by `Authentication`. */
export class CurrentTenant extends Context.Tag("saleslab/CurrentTenant")<CurrentTenant, {
  readonly companyId: string
  readonly companyName: string
  readonly tokenId: string
  readonly tokenName: string
  readonly scopes: ReadonlyArray<Scope>
  /** The token's default rep: the user a practice call is for when the request names none. */
  readonly defaultUserId: string | null
}>() {}

/**
 * Tenant authentication: `Authorization: Bearer sl_token_...`. Fails with 401
 * for a missing, unknown or revoked token, 429 past the token's rate limit
 * and 500 when the token cannot be looked up.
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Authentication", {
  failure: Schema.Union(Unauthorized, RateLimited, InternalError),
  provides: CurrentTenant,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Operator authentication: `Authorization: Bearer <OPERATOR_TOKEN>`; 401 when it is unset or wrong. */
export class OperatorAuthentication extends HttpApiMiddleware.Tag<OperatorAuthentication>()("OperatorAuthentication", {
  failure: Unauthorized,
  security: { operatorBearer: HttpApiSecurity.bearer }
}) {}

/** Fails with 403 unless the current token has `scope`. */
export const requireScope = (scope: Scope) =>
  Effect.flatMap(CurrentTenant, (tenant) =>
    tenant.scopes.includes(scope)
      ? Effect.void
      : Effect.fail(new Forbidden({ message: `This token lacks the '${scope}' scope that this route needs.` }))
  )

/** Fails with 403 unless the current token has `scope`; otherwise returns the tenant's company id. */
export const companyWithScope = (scope: Scope) =>
  Effect.zipRight(requireScope(scope), Effect.map(CurrentTenant, (tenant) => tenant.companyId))
