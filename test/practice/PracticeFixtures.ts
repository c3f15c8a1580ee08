import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { randomBase62, sha256Hex } from "../../src/platform/Secrets.ts"
import { signElevenLabsPayload } from "../../src/practice/ElevenLabsSignature.ts"
import type { Scope } from "../../src/tenancy/Security.ts"
import { apiClient, testElevenLabsSecret, TestServerUrl } from "../support/TestServer.ts"

/** Time the test clock is set to before a test, so stored timestamps are predictable. */
export const testNow = Date.parse("2026-05-19T13:45:00.000Z")

/** Moves the test clock to `testNow` unless it is already later, because TestClock only runs forward. */
export const startClock = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  if (now < testNow) yield* TestClock.setTime(testNow)
})

/** Inserts a company, an API token with `scopes` and one user; returns their ids and the bearer token. */
export const createTenantWithUser = (name: string, scopes: ReadonlyArray<Scope> = ["read", "write", "admin"]) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const companyId = randomUUID()
    const userId = randomUUID()
    const token = `sl_token_${randomBase62(40)}`

    yield* sql`INSERT INTO companies (id, name) VALUES (${companyId}, ${name})`
    yield* sql`
      INSERT INTO api_tokens (id, company_id, name, scopes, token_hash, token_prefix)
      VALUES (${randomUUID()}, ${companyId}, ${"practice tests"}, ${scopes}, ${sha256Hex(token)}, ${token.slice(0, 13)})`
    yield* sql`
      INSERT INTO users (id, company_id, email, name, role)
      VALUES (${userId}, ${companyId}, ${`rep-${userId}@example.com`}, ${"Riley Rep"}, 'rep')`
    return { companyId, userId, token }
  })

/** Inserts a webhook subscription of the tenant and returns its id. */
export const insertSubscription = (
  companyId: string,
  options: {
    readonly eventKinds?: ReadonlyArray<string>
    readonly status?: "active" | "paused"
    readonly url?: string
    readonly secret?: string
  } = {}
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = `sub_${randomBase62(16)}`
    yield* sql`
      INSERT INTO webhook_subscriptions (id, company_id, url, event_kinds, status, secret)
      VALUES (${id}, ${companyId}, ${options.url ?? "http://127.0.0.1:9/hook"}, ${options.eventKinds ?? []},
        ${options.status ?? "active"}, ${options.secret ?? `sl_whsec_${randomBase62(40)}`})`
    return id
  })

/** Creates a scenario and starts a practice call for the tenant's user; returns the started call. */
export const startPracticeCall = (tenant: { readonly token: string; readonly userId: string }, passMark = 70) =>
  Effect.gen(function*() {
    const client = yield* apiClient(tenant.token)
    const scenario = yield* client.scenarios.create({
      payload: { prompt: "You are a skeptical VP of operations at a regional grocery distributor.", pass_mark: passMark }
    })
    return yield* client.practiceCalls.start({ payload: { scenario_id: scenario.id, user_id: tenant.userId } })
  })

const fixtureText = readFileSync(new URL("../fixtures/elevenlabs-post-call.json", import.meta.url), "utf8")

/** The sample post-call payload as a fresh, mutable object. */
export const samplePostCall = (): Record<string, any> => JSON.parse(fixtureText)

/** The sample post-call body with the dynamic variables of a started call, after `change` edits it. */
export const postCallBody = (
  variables: Readonly<Record<string, string>>,
  change: (payload: Record<string, any>) => void = () => {}
) => {
  const payload = samplePostCall()
  payload.data.conversation_initiation_client_data.dynamic_variables = { ...variables }
  change(payload)
  return JSON.stringify(payload)
}

/** Signs `body` as ElevenLabs would, `ageSeconds` before the current (test) time. */
export const signNow = (body: string, ageSeconds = 5, secret = testElevenLabsSecret) =>
  Effect.map(Clock.currentTimeMillis, (now) => signElevenLabsPayload(secret, body, Math.floor(now / 1000) - ageSeconds))

/** Posts a raw body to the ElevenLabs webhook route and returns the status and the parsed JSON body. */
export const postWebhook = (body: string, signature: string | undefined) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    let request = HttpClientRequest.post(`${baseUrl}/api/webhooks/elevenlabs`).pipe(
      HttpClientRequest.bodyText(body, "application/json")
    )
    if (signature !== undefined) request = HttpClientRequest.setHeader(request, "elevenlabs-signature", signature)
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    return { status: response.status, body: text === "" ? null : JSON.parse(text) as Record<string, any> }
  }).pipe(Effect.provide(FetchHttpClient.layer))

/**
 * Makes `userId` the default rep of `token`, or removes the default rep when
 * `userId` is null, through `PATCH /v1/api-tokens/{id}`. Needs the admin scope.
 */
export const setDefaultRep = (token: string, userId: string | null) =>
  Effect.gen(function*() {
    const me = yield* sendJson(token, "GET", "/v1/me")
    const path = `/v1/api-tokens/${me.body!.token.id}`
    const response = yield* sendJson(token, "PATCH", path, { default_user_id: userId })
    if (response.status !== 200) {
      return yield* Effect.dieMessage(`PATCH ${path} failed with ${response.status}: ${JSON.stringify(response.body)}`)
    }
  })

/** Numbers of rows the post-call path writes, for checking that a request wrote nothing. */
export const writtenRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ completed: number; scorecards: number; events: number; deliveries: number }>`
    SELECT
      (SELECT count(*)::int FROM practice_sessions WHERE status = 'completed') AS completed,
      (SELECT count(*)::int FROM scorecards) AS scorecards,
      (SELECT count(*)::int FROM events) AS events,
      (SELECT count(*)::int FROM webhook_deliveries) AS deliveries`
  return row!
})

/**
 * Sends a JSON request with `token` as bearer, outside the typed client so
 * that tests see raw statuses and bodies. Returns the status and the parsed body.
 */
export const sendJson = (token: string, method: "GET" | "POST" | "PATCH", path: string, body?: unknown) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    let request = HttpClientRequest.make(method)(`${baseUrl}${path}`).pipe(HttpClientRequest.bearerToken(token))
    if (body !== undefined) request = yield* HttpClientRequest.bodyJson(request, body)
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    return { status: response.status, body: text === "" ? null : JSON.parse(text) as Record<string, any> }
  }).pipe(Effect.provide(FetchHttpClient.layer))
