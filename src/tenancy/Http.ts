import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import type { ApiTokenId, CompanyId, Me, UserId } from "./Api.ts"
import { ApiTokens, defaultScopes } from "./ApiTokens.ts"
import { Companies } from "./Companies.ts"
import { CurrentTenant, requireScope } from "./Security.ts"
import { Users } from "./Users.ts"

/** The company of the current request, typed as a company id. */
const currentCompanyId = Effect.map(CurrentTenant, (tenant) => tenant.companyId as CompanyId)

/** Handlers of `POST /api/admin/companies`. */
export const CompaniesHttpLive = HttpApiBuilder.group(SalesLabApi, "companies", (handlers) =>
  Effect.gen(function*() {
    const companies = yield* Companies
    return handlers.handle("create", ({ payload }) => companies.create(payload.name))
  }))

/** Handlers of `/v1/api-tokens`. Every route needs the admin scope. */
export const ApiTokensHttpLive = HttpApiBuilder.group(SalesLabApi, "apiTokens", (handlers) =>
  Effect.gen(function*() {
    const apiTokens = yield* ApiTokens
    return handlers
      .handle("create", ({ payload }) =>
        requireScope("admin").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) =>
            apiTokens.mint(companyId, payload.name, payload.scopes ?? defaultScopes, payload.default_user_id ?? null)
          )
        ))
      .handle("list", ({ urlParams }) =>
        requireScope("admin").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) => apiTokens.list(companyId, urlParams))
        ))
      .handle("update", ({ path, payload }) =>
        requireScope("admin").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) => apiTokens.setDefaultUser(companyId, path.id, payload.default_user_id))
        ))
      .handle("revoke", ({ path }) =>
        requireScope("admin").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) => apiTokens.revoke(companyId, path.id))
        ))
  }))

/** Handlers of `/v1/users`. */
export const UsersHttpLive = HttpApiBuilder.group(SalesLabApi, "users", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    return handlers
      .handle("create", ({ payload }) =>
        requireScope("admin").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) => users.create(companyId, payload))
        ))
      .handle("list", ({ urlParams }) =>
        requireScope("read").pipe(
          Effect.zipRight(currentCompanyId),
          Effect.flatMap((companyId) => users.list(companyId, urlParams))
        ))
  }))

/** Handler of `GET /v1/me`, open to any scope. */
export const MeHttpLive = HttpApiBuilder.group(SalesLabApi, "me", (handlers) =>
  handlers.handle("get", () =>
    Effect.map(CurrentTenant, (tenant): Me => ({
      company: { id: tenant.companyId as CompanyId, name: tenant.companyName },
      token: {
        id: tenant.tokenId as ApiTokenId,
        name: tenant.tokenName,
        scopes: tenant.scopes,
        default_user_id: tenant.defaultUserId as UserId | null
      }
    }))))

/**
 * Every tenancy route with the services it uses. The routes need the
 * authentication middlewares of `SecurityLive`, which all tenant routes share.
 */
export const TenancyHttpLive = Layer.mergeAll(CompaniesHttpLive, ApiTokensHttpLive, UsersHttpLive, MeHttpLive).pipe(
  Layer.provide([Companies.Default, ApiTokens.Default, Users.Default])
)
