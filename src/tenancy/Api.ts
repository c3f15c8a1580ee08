import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody, strictQuery } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../ApiErrors.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication, OperatorAuthentication, Scope } from "./Security.ts"

/** Id of a company, the tenant that owns tokens, users and all their data. */
export const CompanyId = Schema.UUID.pipe(Schema.brand("CompanyId")).annotations({ identifier: "CompanyId" })
export type CompanyId = typeof CompanyId.Type

/** Id of an API token. The token text itself is never used as an id. */
export const ApiTokenId = Schema.UUID.pipe(Schema.brand("ApiTokenId")).annotations({ identifier: "ApiTokenId" })
export type ApiTokenId = typeof ApiTokenId.Type

/** Id of a user of a company. */
export const UserId = Schema.UUID.pipe(Schema.brand("UserId")).annotations({ identifier: "UserId" })
export type UserId = typeof UserId.Type

/**
 * The wire side of a string that is normalised on decoding. The OpenAPI
 * document describes a request body by its wire side, so the description
 * goes there.
 */
const describedString = (description: string) => Schema.String.annotations({ description })

/** A display name: surrounding whitespace is removed, then 1 to 200 characters remain. */
export const DisplayName = Schema.compose(
  describedString("1 to 200 characters after surrounding whitespace is removed."),
  Schema.Trim.pipe(Schema.minLength(1), maxCharacters(200))
)

/**
 * An email address, trimmed and lower-cased, so that two spellings of the
 * same address are one user. The check is deliberately loose (something@domain.tld):
 * only a sent mail proves an address.
 */
export const Email = Schema.compose(
  describedString("An email address such as rep@example.com, stored trimmed and lower-cased."),
  Schema.compose(Schema.Trim, Schema.Lowercase).pipe(
    maxCharacters(254),
    Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, {
      message: () => "Expected an email address such as rep@example.com"
    })
  )
).annotations({ identifier: "Email" })

/** Role of a user within a company. */
export const Role = Schema.Literal("rep", "manager", "admin").annotations({ identifier: "Role" })
export type Role = typeof Role.Type

/** The secret text of an API token, shown once when it is minted. */
export const TokenText = Schema.String.annotations({
  description: "`sl_token_` followed by 40 base62 characters. Shown only once, so store it in a secret manager."
})

/** A company as returned by the operator routes. */
export const Company = Schema.Struct({
  id: CompanyId,
  name: Schema.String,
  created_at: Schema.Date
}).annotations({ identifier: "Company" })
export type Company = typeof Company.Type

/** Response of a company creation: the company and its first admin token. */
export const CreatedCompany = Schema.Struct({
  company: Company,
  admin_token: TokenText
}).annotations({ identifier: "CreatedCompany" })
export type CreatedCompany = typeof CreatedCompany.Type

/** The default rep of a token, as every token response carries it. */
const DefaultUserIdField = Schema.NullOr(UserId).annotations({
  description: "Id of the user that POST /v1/practice-calls starts a call for when the request made with this token " +
    "has no user_id. Null when the token has no default rep."
})

/** An API token as listed: everything except the token text, which only its hash stands for. */
export const ApiToken = Schema.Struct({
  id: ApiTokenId,
  name: Schema.String,
  scopes: Schema.Array(Scope),
  token_prefix: Schema.String.annotations({ description: "The first 12 characters of the token, to recognise it." }),
  default_user_id: DefaultUserIdField,
  created_at: Schema.Date,
  last_used_at: Schema.NullOr(Schema.Date).annotations({ description: "Updated at most once a minute." }),
  revoked_at: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "ApiToken" })
export type ApiToken = typeof ApiToken.Type

/** A freshly minted API token, with its text. */
export const MintedApiToken = Schema.Struct({
  id: ApiTokenId,
  name: Schema.String,
  scopes: Schema.Array(Scope),
  token: TokenText,
  token_prefix: Schema.String,
  default_user_id: DefaultUserIdField,
  created_at: Schema.Date
}).annotations({ identifier: "MintedApiToken" })
export type MintedApiToken = typeof MintedApiToken.Type

/** Body of `POST /v1/api-tokens`. */
export const MintApiTokenPayload = Schema.Struct({
  name: DisplayName,
  scopes: Schema.optional(Schema.NonEmptyArray(Scope)).annotations({
    description: "A non-empty subset of read, write and admin. Read and write when absent."
  }),
  default_user_id: Schema.optional(UserId).annotations({
    description: "Id of a user of the company that POST /v1/practice-calls uses when a request made with this token " +
      "has no user_id. An unknown user or another company's user is a 404. No default rep when absent."
  })
})

/** Body of `PATCH /v1/api-tokens/{id}`. */
export const UpdateApiTokenPayload = Schema.Struct({
  default_user_id: Schema.NullOr(UserId).annotations({
    description: "Id of a user of the company to make the token's default rep, or null to remove the default rep. " +
      "An unknown user or another company's user is a 404."
  })
})

/** A user of a company. */
export const User = Schema.Struct({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  role: Role,
  created_at: Schema.Date
}).annotations({ identifier: "User" })
export type User = typeof User.Type

/** Body of `POST /v1/users`. */
export const CreateUserPayload = Schema.Struct({
  email: Email,
  name: DisplayName,
  role: Schema.optional(Role).annotations({ description: "The user's role, rep when absent." })
})

/** The tenant and token behind a request, as `GET /v1/me` returns them. */
export const Me = Schema.Struct({
  company: Schema.Struct({ id: CompanyId, name: Schema.String }),
  token: Schema.Struct({
    id: ApiTokenId,
    name: Schema.String,
    scopes: Schema.Array(Scope),
    default_user_id: DefaultUserIdField
  })
}).annotations({ identifier: "Me" })
export type Me = typeof Me.Type

/** Operator route that creates tenants. */
export class CompaniesApi extends HttpApiGroup.make("companies")
  .add(
    HttpApiEndpoint.post("create", "/api/admin/companies")
      .setPayload(strictBody(Schema.Struct({ name: DisplayName })))
      .addSuccess(CreatedCompany, { status: 201 })
      .annotate(OpenApi.Description, "Creates a company and its first token, with scopes read, write and admin.")
  )
  .middleware(OperatorAuthentication)
{}

/** Minting, listing, updating and revoking the API tokens of the current company. */
export class ApiTokensApi extends HttpApiGroup.make("apiTokens")
  .add(
    HttpApiEndpoint.post("create", "/v1/api-tokens")
      .setPayload(strictBody(MintApiTokenPayload))
      .addSuccess(MintedApiToken, { status: 201 })
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Mints a token. Its text is in this response only. A default_user_id that names no user of the company is a 404. " +
          "Needs the admin scope."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/api-tokens")
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(ApiToken))
      .addError(BadRequest)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "Lists the company's tokens, revoked ones included, newest first. Needs admin.")
  )
  .add(
    HttpApiEndpoint.patch("update", "/v1/api-tokens/:id")
      .setPath(Schema.Struct({ id: ApiTokenId }))
      .setPayload(strictBody(UpdateApiTokenPayload))
      .addSuccess(ApiToken)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Sets or removes the default rep of a token. An unknown token or user, or another company's, is a 404, " +
          "and a revoked token is a 409. Needs the admin scope."
      )
  )
  .add(
    HttpApiEndpoint.del("revoke", "/v1/api-tokens/:id")
      .setPath(Schema.Struct({ id: ApiTokenId }))
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Revokes a token, so that its next request is rejected with 401. Needs the admin scope.")
  )
  .middleware(Authentication)
{}

/** The users of the current company. */
export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("create", "/v1/users")
      .setPayload(strictBody(CreateUserPayload))
      .addSuccess(User, { status: 201 })
      .addError(Forbidden)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Creates a user. An email already used in the company is a 409. Needs the admin scope.")
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/users")
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(User))
      .addError(BadRequest)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "Lists the company's users, newest first. Needs the read scope.")
  )
  .middleware(Authentication)
{}

/** The company and token behind a bearer token. */
export class MeApi extends HttpApiGroup.make("me")
  .add(
    HttpApiEndpoint.get("get", "/v1/me")
      .addSuccess(Me)
      .annotate(OpenApi.Description, "The company and token behind the bearer token. Any scope.")
  )
  .middleware(Authentication)
{}
