import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody, strictQuery } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../ApiErrors.ts"
import { ListParams, Page } from "../Pagination.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Id of a warehouse credential. */
export const WarehouseCredentialId = Schema.UUID.pipe(Schema.brand("WarehouseCredentialId")).annotations({
  identifier: "WarehouseCredentialId",
  description: "Id of a warehouse credential (UUID)."
})
export type WarehouseCredentialId = typeof WarehouseCredentialId.Type

/** Body of `POST /v1/warehouse/credentials`. */
export const CreateWarehouseCredential = Schema.Struct({
  name: Schema.optionalWith(
    Schema.compose(
      Schema.String.annotations({ description: "A label such as \"Looker production\", 1 to 200 characters." }),
      Schema.Trim.pipe(Schema.minLength(1), maxCharacters(200))
    ),
    { exact: true }
  )
})
export type CreateWarehouseCredential = typeof CreateWarehouseCredential.Type

/** A warehouse credential as listed: never its password. */
export const WarehouseCredential = Schema.Struct({
  id: WarehouseCredentialId,
  name: Schema.String,
  user: Schema.String.annotations({ description: "The PostgreSQL login name." }),
  created_at: Schema.Date,
  revoked_at: Schema.NullOr(Schema.Date).annotations({ description: "When the login was revoked, or null while it works." })
}).annotations({ identifier: "WarehouseCredential" })
export type WarehouseCredential = typeof WarehouseCredential.Type

/** A new warehouse credential: where and how to connect. The password is in this response only. */
export const CreatedWarehouseCredential = Schema.Struct({
  id: WarehouseCredentialId,
  host: Schema.String,
  port: Schema.Int,
  database: Schema.String,
  user: Schema.String,
  password: Schema.String.annotations({ description: "Shown only once, so store it in a secret manager." }),
  created_at: Schema.Date
}).annotations({ identifier: "CreatedWarehouseCredential" })
export type CreatedWarehouseCredential = typeof CreatedWarehouseCredential.Type

/** Read-only PostgreSQL logins for BI tools, one company's rows each. */
export class WarehouseCredentialsApi extends HttpApiGroup.make("warehouseCredentials")
  .add(
    HttpApiEndpoint.post("create", "/v1/warehouse/credentials")
      .setPayload(strictBody(CreateWarehouseCredential))
      .addSuccess(CreatedWarehouseCredential, { status: 201 })
      .addError(Forbidden)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Creates a PostgreSQL login that can read the views warehouse_skill_progress and warehouse_session_scores, " +
          "restricted to the company's rows. The password is in this response only. A company that already has " +
          "WAREHOUSE_LOGINS_PER_COMPANY logins (default 5) gets a 409. Needs the admin scope."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/warehouse/credentials")
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(WarehouseCredential))
      .addError(BadRequest)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "Lists the company's warehouse credentials, revoked ones included, newest first. Needs admin.")
  )
  .add(
    HttpApiEndpoint.del("revoke", "/v1/warehouse/credentials/:id")
      .setPath(Schema.Struct({ id: WarehouseCredentialId }))
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Drops the login and ends its open connections, so it can no longer connect. Needs the admin scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Warehouse credentials")
{}
