import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { apiClient, testOperatorToken, TestServerUrl } from "../support/TestServer.ts"

/** Creates a company through the operator route and returns the response, admin token included. */
export const createCompany = (name: string) =>
  Effect.flatMap(apiClient(testOperatorToken), (operator) => operator.companies.create({ payload: { name } }))

/** A response read whole: status, lower-cased headers and the JSON body (null when empty). */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: any
}

/**
 * Sends a request outside the typed client, which would reject invalid
 * input before sending it and hides response headers.
 */
export const sendRaw = (
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  options: { readonly token?: string; readonly body?: unknown } = {}
) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    let request = HttpClientRequest.make(method)(`${baseUrl}${path}`)
    if (options.token !== undefined) request = HttpClientRequest.bearerToken(request, options.token)
    if (options.body !== undefined) request = yield* HttpClientRequest.bodyJson(request, options.body)

    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    return {
      status: response.status,
      headers: response.headers,
      body: text === "" ? null : JSON.parse(text)
    } satisfies RawResponse
  }).pipe(Effect.provide(FetchHttpClient.layer))
