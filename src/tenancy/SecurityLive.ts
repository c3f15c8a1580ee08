import { HttpApp, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import { type InternalError, RateLimited, Unauthorized } from "../ApiErrors.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { sha256Hex } from "../platform/Secrets.ts"
import { ApiTokens, tokenMarker } from "./ApiTokens.ts"
import { RateLimiter, type RateLimitExceeded } from "./RateLimiter.ts"
import { Authentication, type CurrentTenant, OperatorAuthentication } from "./Security.ts"

/**
 * Shape of a token this service could have minted. The contract promises at
 * least 32 random characters, and minted tokens carry 40.
 */
const tokenPattern = new RegExp(`^${tokenMarker}[0-9A-Za-z]{32,}$`)

const missingToken = new Unauthorized({
  message: "Missing bearer token: send the header 'Authorization: Bearer sl_token_...' with an API token of your company."
})

const malformedToken = new Unauthorized({
  message: "Malformed bearer token: an API token is 'sl_token_' followed by letters and digits. " +
    "Send it whole as 'Authorization: Bearer sl_token_...'."
})

const unknownToken = new Unauthorized({
  message: "Unknown API token: check that the whole token was copied, or mint a new one with an admin token."
})

const revokedToken = new Unauthorized({
  message: "This API token was revoked: use another token of your company, or mint a new one with an admin token."
})

/** Whole seconds until `retryAfter` has passed, at least 1, as `Retry-After` carries them. */
const retryAfterSeconds = (retryAfter: Duration.Duration) => Math.max(1, Math.ceil(Duration.toMillis(retryAfter) / 1000))

/** Why a tenant token was not accepted: missing, malformed, unknown, revoked, over its rate limit, or not looked up. */
export type TokenRejection = Unauthorized | RateLimitExceeded | InternalError

/**
 * Checks tenant bearer tokens for every surface that takes them: the REST
 * API and the MCP endpoints. Finds the company behind a `sl_token_...`,
 * rejects revoked tokens, counts the request against the token's rate
 * limits and records when the token was last used.
 */
export class TenantTokens extends Effect.Service<TenantTokens>()("saleslab/TenantTokens", {
  effect: Effect.gen(function*() {
    const apiTokens = yield* ApiTokens
    const rateLimiter = yield* RateLimiter

    /** Returns the tenant behind `text`, the bearer credential as sent, or why it is rejected. */
    const authenticate = (text: string): Effect.Effect<CurrentTenant["Type"], TokenRejection> =>
      Effect.gen(function*() {
        const token = text.trim()
        if (token === "") return yield* Effect.fail(missingToken)
        if (!tokenPattern.test(token)) return yield* Effect.fail(malformedToken)

        const owner = yield* apiTokens.findByText(token).pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.fail(unknownToken), onSome: Effect.succeed }))
        )
        if (owner.revokedAt !== null) return yield* Effect.fail(revokedToken)

        yield* rateLimiter.consume(owner.tokenId).pipe(
          Effect.tapError((exceeded) =>
            exceeded.rejections === 1
              ? Effect.logWarning("API token rate limited").pipe(
                Effect.annotateLogs({ token_id: owner.tokenId, window: exceeded.window, limit: exceeded.limit })
              )
              : Effect.void
          )
        )
        yield* apiTokens.recordUse(owner)

        return {
          companyId: owner.companyId,
          companyName: owner.companyName,
          tokenId: owner.tokenId,
          tokenName: owner.tokenName,
          scopes: owner.scopes,
          defaultUserId: owner.defaultUserId
        }
      })

    return { authenticate } as const
  }),
  dependencies: [ApiTokens.Default, RateLimiter.layerMemory]
}) {}

/** Builds the `RateLimited` error of a token past `exceeded`, with the whole seconds to wait. */
export const rateLimitedError = (exceeded: RateLimitExceeded) => {
  const seconds = retryAfterSeconds(exceeded.retryAfter)
  return new RateLimited({
    message: `This token made its ${exceeded.limit} requests per ${exceeded.window}. Retry after ${seconds} seconds.`,
    retry_after_seconds: seconds
  })
}

/**
 * Fails with 429 and sets `Retry-After` on the response. The error schema
 * only shapes the body, so the header is added by a pre-response handler,
 * which runs on whatever response the request ends with: the 429 here.
 */
const rejectRateLimited = (exceeded: RateLimitExceeded) => {
  const error = rateLimitedError(exceeded)
  return HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(error.retry_after_seconds)))
  ).pipe(Effect.zipRight(Effect.fail(error)))
}

/** Tenant authentication of the REST routes, through `TenantTokens`. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const tenantTokens = yield* TenantTokens

    return Authentication.of({
      bearer: (credential) =>
        tenantTokens.authenticate(Redacted.value(credential)).pipe(
          Effect.catchTag("RateLimitExceeded", rejectRateLimited)
        )
    })
  })
)

/**
 * Operator authentication: the bearer must equal `OPERATOR_TOKEN`. Both are
 * hashed before a constant-time comparison, so neither the content nor the
 * length of the configured token shows in response times.
 */
export const OperatorAuthenticationLive = Layer.effect(
  OperatorAuthentication,
  Effect.map(AppConfig, (config) => {
    const expectedDigest = Option.map(config.operatorToken, (token) => Buffer.from(sha256Hex(Redacted.value(token)), "hex"))

    return OperatorAuthentication.of({
      operatorBearer: (credential) => {
        if (Option.isNone(expectedDigest)) {
          return Effect.fail(
            new Unauthorized({
              message: "Operator routes are disabled because OPERATOR_TOKEN is not set on the server. " +
                "Set it and restart the service."
            })
          )
        }
        const presented = Redacted.value(credential).trim()
        if (presented === "") {
          return Effect.fail(
            new Unauthorized({ message: "Missing operator token: send the header 'Authorization: Bearer <OPERATOR_TOKEN>'." })
          )
        }
        return timingSafeEqual(Buffer.from(sha256Hex(presented), "hex"), expectedDigest.value)
          ? Effect.void
          : Effect.fail(new Unauthorized({ message: "Invalid operator token: send the OPERATOR_TOKEN configured on the server." }))
      }
    })
  })
)

/**
 * Both authentication middlewares with the services they use. Needs
 * `AppConfig` and a `SqlClient`.
 */
export const SecurityLive = Layer.mergeAll(AuthenticationLive, OperatorAuthenticationLive).pipe(
  Layer.provide(TenantTokens.Default)
)
