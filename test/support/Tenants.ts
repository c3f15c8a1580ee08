import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { randomBase62, sha256Hex } from "../../src/platform/Secrets.ts"
import type { Scope } from "../../src/tenancy/Security.ts"
import { TestServerUrl } from "./TestServer.ts"

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
      VALUES (${randomUUID()}, ${companyId}, ${`${name} test token`}, ${scopes}, ${sha256Hex(token)}, ${token.slice(0, 12)})`
    return { companyId, token }
  })

/** A response read whole: the status and the JSON body, null when the body is empty. */
export interface JsonResponse {
  readonly status: number
  readonly body: any
}

/**
 * Sends a request to the test server with `token` as bearer, outside the typed
 * client, so that tests can send invalid input and see raw statuses and bodies.
 */
export const sendAs = (
  token: string,
  method: "GET" | "POST" | "PATCH" | "DELETE" | "OPTIONS",
  path: string,
  body?: unknown,
  headers: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    let request = HttpClientRequest.make(method)(`${baseUrl}${path}`).pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.setHeaders(headers)
    )
    if (body !== undefined) request = yield* HttpClientRequest.bodyJson(request, body)

    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    const result: JsonResponse = { status: response.status, body: text === "" ? null : JSON.parse(text) }
    return result
  }).pipe(Effect.provide(FetchHttpClient.layer))
