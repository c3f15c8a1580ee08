import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { maxJsonDepth, maxRequestBodyBytes } from "../../src/platform/ErrorResponses.ts"
import { TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"

/** Posts `body` as raw text with a JSON content type and returns the status and parsed body. */
const postRaw = (token: string, path: string, body: string) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const response = yield* HttpClient.execute(
      HttpClientRequest.post(`${baseUrl}${path}`).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.bodyText(body, "application/json")
      )
    )
    const text = yield* response.text
    return { status: response.status, text, body: text === "" ? null : JSON.parse(text) }
  }).pipe(Effect.provide(FetchHttpClient.layer))

/** Sends a request with `fetch`, which sets headers exactly as given, and returns the status and parsed body. */
const fetchJson = (path: string, init: RequestInit) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${baseUrl}${path}`, init)
      return { status: response.status, body: await response.json() }
    })
  })

describe("Request errors", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("malformed JSON is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Malformed")
        const result = yield* postRaw(token, "/v1/scenarios", "{nope")

        expect(result.status).toBe(400)
        expect(result.body._tag).toBe("HttpApiDecodeError")
        expect(result.body.message).toContain("not valid JSON")
      }))

    it.effect("HEAD returns GET without body", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const { token } = yield* createTenant("Heads")
        const request = (method: string, path: string, bearer?: string) =>
          Effect.promise(async () => {
            const response = await fetch(`${baseUrl}${path}`, {
              method,
              headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }
            })
            return { status: response.status, headers: response.headers, text: await response.text() }
          })

        const get = yield* request("GET", "/v1/users?limit=5", token)
        const head = yield* request("HEAD", "/v1/users?limit=5", token)
        expect(get.status).toBe(200)
        expect(get.text).not.toBe("")
        expect(head.status).toBe(200)
        expect(head.text).toBe("")
        expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"))
        expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(get.text)))

        expect((yield* request("HEAD", "/v1/users")).status).toBe(401)
        expect((yield* request("HEAD", "/healthz")).status).toBe(200)
        const missing = yield* request("HEAD", "/v1/nothing-here", token)
        expect(missing.status).toBe(404)
        expect(missing.text).toBe("")
      }))

    it.effect("decode error names the field", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Readable")
        const result = yield* sendAs(token, "GET", "/v1/users?limit=0")

        expect(result.status).toBe(400)
        expect(result.body.message).toMatch(/^Invalid request\. 'limit': /)
        expect(result.body.message).toContain("must be an integer from 1 to 100")
        expect(result.body.message).not.toContain("└─")
        expect(result.body.issues).toEqual([
          { _tag: "Refinement", path: ["limit"], message: "must be an integer from 1 to 100" }
        ])
      }))

    it.effect("limit takes decimal digits only", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Digits")
        for (const limit of ["1e1", "0x10", "%2B5", "5.0", "-1", "101", "abc", ""]) {
          const result = yield* sendAs(token, "GET", `/v1/users?limit=${limit}`)
          expect(result.status, limit).toBe(400)
          expect(result.body.message, limit).toBe("Invalid request. 'limit': must be an integer from 1 to 100.")
        }
        for (const limit of ["1", "05", "100"]) {
          const result = yield* sendAs(token, "GET", `/v1/users?limit=${limit}`)
          expect(result.status, limit).toBe(200)
        }
      }))

    it.effect("literal choice error lists every value", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Roles")
        const result = yield* sendAs(token, "POST", "/v1/users", { email: "owner@example.com", name: "Owner", role: "owner" })

        expect(result.status).toBe(400)
        expect(result.body.message).toBe(`Invalid request. 'role': Expected one of "rep", "manager" or "admin", actual "owner".`)
      }))

    it.effect("nested decode error has no undefined alternative", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Nested")
        const cases = [
          { scopes: [], message: "Invalid request. 'scopes': must contain at least one item." },
          { scopes: ["root"], message: /^Invalid request\. 'scopes\.0': / }
        ]
        for (const { scopes, message } of cases) {
          const result = yield* sendAs(token, "POST", "/v1/api-tokens", { name: "z", scopes })

          expect(result.status, JSON.stringify(scopes)).toBe(400)
          expect(result.body.message, JSON.stringify(scopes)).toMatch(message)
          expect(JSON.stringify(result.body.issues), JSON.stringify(scopes)).not.toContain("Expected undefined")
        }
      }))

    it.effect("nullable field error has no null alternative", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Nullable")
        const ids = { user_id: "00000000-0000-4000-8000-000000000001", scenario_id: "00000000-0000-4000-8000-000000000002" }
        const dueAt = yield* sendAs(token, "POST", "/v1/assignments", { ...ids, due_at: "10000-01-01T00:00:00Z" })

        expect(dueAt.status).toBe(400)
        expect(dueAt.body.issues).toHaveLength(1)
        expect(dueAt.body.issues[0].path).toEqual(["due_at"])
        expect(dueAt.body.issues[0].message).toContain("must be an ISO 8601 timestamp")
      }))

    it.effect("issue text joins description and value", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Described")
        const result = yield* sendAs(token, "GET", "/v1/users/abc/badges")

        expect(result.status).toBe(400)
        expect(result.body.issues[0].message).toBe(`Expected Id of a user of the tenant (UUID), actual "abc"`)
      }))

    it.effect("wrong type names the JSON type", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Typed")
        const cases = [
          {
            body: { url: "http://127.0.0.1:9/hook", event_kinds: "session.completed" },
            message: `Invalid request. 'event_kinds': Expected an array, actual "session.completed".`
          },
          {
            body: { url: "http://127.0.0.1:9/hook", description: 5 },
            message: "Invalid request. 'description': Expected a string, actual 5."
          },
          { body: { url: 5 }, message: "Invalid request. 'url': Expected a string, actual 5." },
          { body: [1], message: "Invalid request. 'body': Expected an object, actual [1]." }
        ]
        for (const { body, message } of cases) {
          const result = yield* sendAs(token, "POST", "/v1/webhooks", body)

          expect(result.status, JSON.stringify(body)).toBe(400)
          expect(result.body.message, JSON.stringify(body)).toBe(message)
        }
      }))

    it.effect("unknown body field is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Strict")
        const created = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook", status: "paused" })
        expect(created.status).toBe(400)
        expect(created.body.message).toMatch(/^Invalid request\. 'status': is unexpected/)

        const user = yield* sendAs(token, "POST", "/v1/users", { email: "strict@example.com", name: "Strict", extra: 1 })
        expect(user.status).toBe(400)
        expect(user.body.message).toContain("'extra': is unexpected")

        const listed = yield* sendAs(token, "GET", "/v1/webhooks")
        expect(listed.body.data).toEqual([])
      }))

    it.effect("unknown query parameter is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Query")
        const cases = [
          { path: "/v1/users?limt=5", parameter: "limt" },
          { path: "/v1/webhooks?limit=5&status=active", parameter: "status" },
          { path: "/v1/sessions?user=x", parameter: "user" }
        ]
        for (const { path, parameter } of cases) {
          const result = yield* sendAs(token, "GET", path)

          expect(result.status, path).toBe(400)
          expect(result.body.message, path).toMatch(new RegExp(`^Invalid request\\. '${parameter}': is unexpected; expected one of "limit"(, | or )"cursor"`))
        }
        expect((yield* sendAs(token, "GET", "/v1/users?limit=5")).status).toBe(200)
      }))

    it.effect("form bodies are a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Forms")
        const baseUrl = yield* TestServerUrl
        const form = new FormData()
        form.set("email", "multipart@example.com")
        form.set("name", "Multi")
        const bodies = [
          { label: "URL-encoded", body: new URLSearchParams({ email: "form@example.com", name: "a\u0000b" }) },
          { label: "multipart", body: form }
        ]
        for (const { label, body } of bodies) {
          const response = yield* Effect.promise(() =>
            fetch(`${baseUrl}/v1/users`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body })
          )
          const payload = yield* Effect.promise(() => response.json() as Promise<{ message: string }>)
          expect(response.status, label).toBe(400)
          expect(payload.message, label).toContain("must be a JSON object sent with content-type application/json")
        }
        const users = yield* sendAs(token, "GET", "/v1/users")
        expect(users.body.data).toEqual([])
      }))

    it.effect("plain text body names content type", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Plain")
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.execute(
          HttpClientRequest.post(`${baseUrl}/v1/scenarios`).pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyText("prompt=hello", "text/plain")
          )
        ).pipe(Effect.provide(FetchHttpClient.layer))
        const body = JSON.parse(yield* response.text)

        expect(response.status).toBe(400)
        expect(body.message).toContain("content-type application/json")
        expect(body.message).toContain("text/plain")
      }))

    it.effect("malformed path encoding is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Encoding")
        const result = yield* sendAs(token, "GET", "/v1/webhooks/sub_x/deliveries/%E0%A4%A")

        expect(result.status).toBe(400)
        expect(result.body._tag).toBe("BadRequest")
        expect(result.body.message).toContain("percent-encoded")
      }))

    it.effect("encoded NUL in path is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("NulPath")
        const result = yield* sendAs(token, "GET", "/v1/webhooks/%00")

        expect(result.status).toBe(400)
        expect(result.body.message).toContain("NUL")
      }))

    it.effect("overlong path segment is a JSON 404", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("LongPath")
        const overlong = yield* sendAs(token, "GET", `/v1/users/${"a".repeat(2049)}/badges`)
        expect(overlong.status).toBe(404)
        expect(overlong.body._tag).toBe("NotFound")
        expect(overlong.body.message).toContain("longer than 2048 characters")

        // At the limit the route matches, and rejects the id as it rejects any id that is not a UUID.
        const longest = yield* sendAs(token, "GET", `/v1/users/${"a".repeat(2048)}/badges`)
        expect(longest.status).toBe(400)
        expect(longest.body._tag).toBe("HttpApiDecodeError")
      }))

    it.effect("other JSON media type is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("MediaType")
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.execute(
          HttpClientRequest.post(`${baseUrl}/v1/scenarios`).pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyText(JSON.stringify({ prompt: "Handle a price objection." }), "application/vnd.api+json")
          )
        ).pipe(Effect.provide(FetchHttpClient.layer), Effect.timeout("10 seconds"))
        const body = JSON.parse(yield* response.text)

        expect(response.status).toBe(400)
        expect(body.message).toContain("application/vnd.api+json")
      }))

    it.effect("charset other than UTF-8 is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Charsets")
        const post = (contentType: string) =>
          fetchJson("/v1/scenarios", {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": contentType },
            body: JSON.stringify({ prompt: "A buyer." })
          })

        for (const contentType of ["application/json; charset=latin1", "application/json;charset=\"UTF-16\""]) {
          const rejected = yield* post(contentType)
          expect(rejected.status, contentType).toBe(400)
          expect(rejected.body.message, contentType).toMatch(/^Invalid request\. The content-type names charset=(latin1|utf-16), /)
        }
        for (const contentType of ["application/json; charset=utf-8", "application/json; charset=\"UTF-8\"", "application/json"]) {
          expect((yield* post(contentType)).status, contentType).toBe(201)
        }
      }))

    it.effect("body without content type is checked", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Untyped")
        // A byte array goes out with no content-type header, where a string would be sent as text/plain.
        const post = (body: string) =>
          fetchJson("/v1/users", {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
            body: new TextEncoder().encode(body)
          })

        const nul = yield* post(JSON.stringify({ email: "nul@example.com", name: "x\u0000y" }))
        expect(nul.status).toBe(400)
        expect(nul.body.message).toContain("NUL")

        const surrogate = yield* post(JSON.stringify({ email: "lone@example.com", name: "x\ud800y" }))
        expect(surrogate.status).toBe(400)
        expect(surrogate.body.message).toContain("surrogate")

        const valid = yield* post(JSON.stringify({ email: "plain@example.com", name: "Plain" }))
        expect(valid.status).toBe(201)
      }))

    it.effect("NUL under a JSON charset is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Charset")
        const baseUrl = yield* TestServerUrl
        const response = yield* HttpClient.execute(
          HttpClientRequest.post(`${baseUrl}/v1/scenarios`).pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyText(JSON.stringify({ prompt: "a\u0000b" }), "Application/JSON; charset=utf-8")
          )
        ).pipe(Effect.provide(FetchHttpClient.layer))
        const body = JSON.parse(yield* response.text)

        expect(response.status).toBe(400)
        expect(body.field).toBe("prompt")
      }))

    it.effect("huge invalid value is not echoed whole", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Echo")
        const result = yield* postRaw(token, "/v1/scenarios", JSON.stringify({ prompt: "p".repeat(200_000) }))

        expect(result.status).toBe(400)
        expect(result.text.length).toBeLessThan(5_000)
      }))

    it.effect("body over the limit is a 413", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Oversize")
        const result = yield* postRaw(token, "/v1/scenarios", JSON.stringify({ prompt: "p".repeat(maxRequestBodyBytes) }))

        expect(result.status).toBe(413)
        expect(result.body._tag).toBe("PayloadTooLarge")
      }))

    it.effect("NUL character in text is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Nul")
        const result = yield* sendAs(token, "POST", "/v1/scenarios", { prompt: "a\u0000b" })

        expect(result.status).toBe(400)
        expect(result.body._tag).toBe("BadRequest")
        expect(result.body.message).toContain("NUL")
      }))

    it.effect("NUL character path is named", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Nested nul")
        const result = yield* postRaw(token, "/v1/scenarios", JSON.stringify({ prompt: "ok", tags: [{ name: "x\u0000" }] }))

        expect(result.status).toBe(400)
        expect(result.body.message).toContain("'tags.0.name'")
      }))

    it.effect("unpaired surrogate is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Surrogate")
        // JSON.stringify escapes a lone surrogate as \ud800, as a client would send it.
        const cases = [
          { body: { prompt: "a\ud800b" }, field: "prompt", code: "d800" },
          { body: { prompt: "ok", tags: [{ name: "\udc01" }] }, field: "tags.0.name", code: "dc01" },
          { body: { prompt: "ok", tags: [{ name: "x\udc01\ud800" }] }, field: "tags.0.name", code: "dc01" }
        ]
        for (const { body, field, code } of cases) {
          const result = yield* postRaw(token, "/v1/scenarios", JSON.stringify(body))

          expect(result.status, field).toBe(400)
          expect(result.body._tag, field).toBe("BadRequest")
          expect(result.body.message, field).toContain(`'${field}' contains an unpaired UTF-16 surrogate (\\u${code})`)
        }
      }))

    it.effect("paired surrogates are stored as sent", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Emoji")
        const result = yield* postRaw(token, "/v1/scenarios", JSON.stringify({ prompt: "pitch \ud83d\ude80" }))

        expect(result.status).toBe(201)
        expect(result.body.prompt).toBe("pitch \u{1F680}")
      }))

    it.effect("body that is not UTF-8 is a 400", () =>
      Effect.gen(function*() {
        const baseUrl = yield* TestServerUrl
        const { token } = yield* createTenant("Bytes")
        const postBytes = (bytes: ArrayBuffer) =>
          Effect.promise(async () => {
            const response = await fetch(`${baseUrl}/v1/scenarios`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: bytes
            })
            return { status: response.status, body: await response.json() }
          })
        const withPrompt = (...middle: Array<number>) =>
          new Uint8Array([...Buffer.from('{"prompt":"a'), ...middle, ...Buffer.from('b"}')]).buffer

        // A lone byte of Latin-1, an encoded surrogate, and a 4-byte sequence cut short.
        for (const middle of [[0xff, 0xfe], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98]]) {
          const result = yield* postBytes(withPrompt(...middle))
          expect(result.status, String(middle)).toBe(400)
          expect(result.body.message, String(middle)).toContain("not valid UTF-8")
        }

        // U+FFFD and an emoji sent as UTF-8 are text like any other.
        const valid = yield* postBytes(withPrompt(0xef, 0xbf, 0xbd, 0xf0, 0x9f, 0x9a, 0x80))
        expect(valid.status).toBe(201)
        expect(valid.body.prompt).toBe("a\uFFFD\u{1F680}b")
      }))

    it.effect("deeply nested JSON is a 400", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Deep")
        const result = yield* postRaw(token, "/v1/scenarios", "[".repeat(5_000) + "]".repeat(5_000))

        expect(result.status).toBe(400)
        expect(result.body.message).toContain(`deeper than ${maxJsonDepth} levels`)
      }))

    it.effect("long path parameter gets a JSON 404", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Long id")
        const result = yield* sendAs(token, "GET", `/v1/webhooks/${"a".repeat(500)}`)

        expect(result.status).toBe(404)
        expect(result.body._tag).toBe("NotFound")
      }))
  })
})
