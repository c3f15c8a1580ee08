import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { setDefaultRep } from "../practice/PracticeFixtures.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"
import { TestServerLive, TestServerUrl } from "../support/TestServer.ts"
import { callTool, connectClient, firstText, openSseStream, seedTenant, transportKinds } from "./McpFixtures.ts"

const toolNames = ["query_scorecard", "list_recent_sessions", "create_scenario", "start_practice_call", "get_coaching_brief"]

describe("MCP tools", () => {
  it.layer(TestServerLive(), { timeout: 60_000 })((it) => {
    for (const kind of transportKinds) {
      describe(kind, () => {
        it.scoped("lists the five tools", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const { tools } = yield* Effect.promise(() => client.listTools())

            expect(tools.map((tool) => tool.name)).toEqual(toolNames)
            const byName = new Map(tools.map((tool) => [tool.name, tool]))
            expect(byName.get("query_scorecard")!.inputSchema.required).toEqual(["session_id"])
            expect(byName.get("get_coaching_brief")!.inputSchema.required).toEqual(["user_id"])
            expect(byName.get("create_scenario")!.inputSchema.required).toEqual(["prompt"])
            expect(byName.get("start_practice_call")!.inputSchema.required).toEqual(["scenario_id"])
            expect(byName.get("list_recent_sessions")!.inputSchema.required ?? []).toEqual([])
            expect(Object.keys(byName.get("list_recent_sessions")!.inputSchema.properties!).sort()).toEqual(["limit", "user_id"])
            expect(byName.get("query_scorecard")!.outputSchema?.type).toBe("object")
            expect(byName.get("query_scorecard")!.annotations?.readOnlyHint).toBe(true)
            expect(byName.get("create_scenario")!.annotations?.readOnlyHint).toBe(false)
          }))

        it.scoped("query_scorecard matches REST", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)
            const sessionId = tenant.sessionIds[0]!

            const result = yield* callTool(client, "query_scorecard", { session_id: sessionId })
            const rest = yield* sendAs(tenant.token, "GET", `/v1/sessions/${sessionId}/scorecard`)

            expect(result.isError).toBeFalsy()
            expect(rest.status).toBe(200)
            expect(result.structuredContent).toEqual(rest.body)
            expect(firstText(result)).toContain("scored 64/100 (fail)")
          }))

        it.scoped("list_recent_sessions matches REST", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const result = yield* callTool(client, "list_recent_sessions", { user_id: tenant.userId, limit: 1 })
            const rest = yield* sendAs(tenant.token, "GET", `/v1/sessions?user_id=${tenant.userId}&limit=1`)

            expect(result.isError).toBeFalsy()
            expect(result.structuredContent).toEqual(rest.body)
            expect((result.structuredContent as any).data).toHaveLength(1)
            expect((result.structuredContent as any).next_cursor).not.toBeNull()
            expect(firstText(result)).toMatch(/^1 session, \d completed, more available\.$/)

            const all = yield* callTool(client, "list_recent_sessions")
            expect((all.structuredContent as any).data.map((session: any) => session.id)).toEqual(tenant.sessionIds)
            expect(firstText(all)).toMatch(new RegExp(`^${tenant.sessionIds.length} sessions, \\d+ completed\\.$`))
          }))

        it.scoped("create_scenario stores the scenario", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)
            const prompt = "You are Dana, a VP of operations. Push back on price."

            const result = yield* callTool(client, "create_scenario", { prompt })

            expect(result.isError).toBeFalsy()
            const scenario = result.structuredContent as any
            expect(scenario.title).toBe("You are Dana, a VP of operations.")
            expect(scenario.pass_mark).toBe(70)
            const sql = yield* SqlClient.SqlClient
            const rows = yield* sql<{ company_id: string; prompt: string }>`
              SELECT company_id, prompt FROM scenarios WHERE id = ${scenario.id}`
            expect(rows).toEqual([{ company_id: tenant.companyId, prompt }])
          }))

        it.scoped("create_scenario counts emoji once", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)
            const emoji = "\u{1F600}"

            const accepted = yield* callTool(client, "create_scenario", { prompt: "A buyer.", title: emoji.repeat(200) })
            const rejected = yield* callTool(client, "create_scenario", { prompt: "A buyer.", title: emoji.repeat(201) })

            expect(accepted.isError).toBeFalsy()
            expect((accepted.structuredContent as any).title).toBe(emoji.repeat(200))
            expect(rejected.isError).toBe(true)
            expect(firstText(rejected)).toContain("at most 200 characters")
          }))

        it.scoped("start_practice_call starts a session", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const result = yield* callTool(client, "start_practice_call", {
              scenario_id: tenant.scenarioId,
              user_id: tenant.userId
            })

            expect(result.isError).toBeFalsy()
            const call = result.structuredContent as any
            expect(call.status).toBe("started")
            expect(call.user_id).toBe(tenant.userId)
            const rest = yield* sendAs(tenant.token, "GET", `/v1/sessions?user_id=${tenant.userId}`)
            const listed = rest.body.data.find((session: any) => session.id === call.session_id)
            expect(listed.status).toBe("started")
            expect(listed.scenario_id).toBe(tenant.scenarioId)
          }))

        it.scoped("start_practice_call uses the token's default rep", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const withoutDefault = yield* callTool(client, "start_practice_call", { scenario_id: tenant.scenarioId })
            yield* setDefaultRep(tenant.token, tenant.userId)
            const withDefault = yield* callTool(client, "start_practice_call", { scenario_id: tenant.scenarioId })

            expect(withoutDefault.isError).toBe(true)
            expect(firstText(withoutDefault)).toMatch(/user_id/)
            expect(firstText(withoutDefault)).toMatch(/default_user_id/)
            expect(withDefault.isError).toBeFalsy()
            expect((withDefault.structuredContent as any).user_id).toBe(tenant.userId)
          }))

        it.scoped("get_coaching_brief matches REST", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const result = yield* callTool(client, "get_coaching_brief", { user_id: tenant.userId })
            const rest = yield* sendAs(tenant.token, "GET", `/v1/users/${tenant.userId}/coaching-brief`)

            expect(result.isError).toBeFalsy()
            expect(rest.status).toBe(200)
            expect(result.structuredContent).toEqual(rest.body)
            expect((result.structuredContent as any).id).toBe(tenant.briefId)
          }))

        it.scoped("another tenant's ids are not found", () =>
          Effect.gen(function*() {
            const first = yield* seedTenant("Acme")
            const second = yield* seedTenant("Globex")
            const client = yield* connectClient(kind, second.token)

            const scorecard = yield* callTool(client, "query_scorecard", { session_id: first.sessionIds[0] })
            const brief = yield* callTool(client, "get_coaching_brief", { user_id: first.userId })
            const call = yield* callTool(client, "start_practice_call", { scenario_id: first.scenarioId, user_id: second.userId })
            const sessions = yield* callTool(client, "list_recent_sessions", { user_id: first.userId })

            expect(scorecard.isError).toBe(true)
            expect(firstText(scorecard)).toBe(`Practice session ${first.sessionIds[0]} not found.`)
            expect(brief.isError).toBe(true)
            expect(firstText(brief)).toBe(`User ${first.userId} not found.`)
            expect(call.isError).toBe(true)
            expect(firstText(call)).toBe(`Scenario ${first.scenarioId} not found.`)
            expect((sessions.structuredContent as any).data).toEqual([])
          }))

        it.scoped("bad arguments name the argument", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const client = yield* connectClient(kind, tenant.token)

            const missing = yield* callTool(client, "query_scorecard", {})
            const wrongType = yield* callTool(client, "list_recent_sessions", { limit: "5" })
            const outOfRange = yield* callTool(client, "list_recent_sessions", { limit: 500 })
            const notUuid = yield* callTool(client, "get_coaching_brief", { user_id: "rep-1" })
            const unknown = yield* callTool(client, "create_scenario", { prompt: "A buyer.", colour: "red" })

            for (const result of [missing, wrongType, outOfRange, notUuid, unknown]) {
              expect(result.isError).toBe(true)
            }
            expect(firstText(missing)).toBe("Missing argument \"session_id\".")
            expect(firstText(wrongType)).toBe("Invalid argument \"limit\": must be an integer from 1 to 100.")
            expect(firstText(outOfRange)).toBe("Invalid argument \"limit\": must be an integer from 1 to 100.")
            expect(firstText(notUuid)).toBe("Invalid argument \"user_id\": must be a UUID.")
            expect(firstText(unknown)).toBe("Unknown argument \"colour\".")
          }))

        it.scoped("a read-only token cannot write", () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const reader = yield* createTenant("Reader", ["read"])
            const client = yield* connectClient(kind, reader.token)

            const result = yield* callTool(client, "create_scenario", { prompt: "A buyer." })
            const read = yield* callTool(client, "list_recent_sessions", { limit: 5 })

            expect(result.isError).toBe(true)
            expect(firstText(result)).toMatch(/lacks the 'write' scope/)
            expect(read.isError).toBeFalsy()
            expect(tenant.sessionIds).toHaveLength(2)
          }))
      })
    }

    describe("authentication", () => {
      for (const kind of ["streamable-http", "sse"] as const) {
        it.scoped(`${kind}: no token is refused`, () =>
          Effect.gen(function*() {
            const failed = yield* Effect.exit(connectClient(kind, undefined))
            expect(failed._tag).toBe("Failure")
          }))

        it.scoped(`${kind}: a revoked token is refused`, () =>
          Effect.gen(function*() {
            const tenant = yield* seedTenant("Acme")
            const sql = yield* SqlClient.SqlClient
            yield* sql`UPDATE api_tokens SET revoked_at = now() WHERE company_id = ${tenant.companyId}`
            const failed = yield* Effect.exit(connectClient(kind, tenant.token))
            expect(failed._tag).toBe("Failure")
          }))
      }

      it.scoped("stdio: a revoked token fails the call", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const client = yield* connectClient("stdio", tenant.token)
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE api_tokens SET revoked_at = now() WHERE company_id = ${tenant.companyId}`

          const result = yield* callTool(client, "list_recent_sessions")

          expect(result.isError).toBe(true)
          expect(firstText(result)).toMatch(/revoked/)
        }))

      it.scoped("stdio: no token ends the binary", () =>
        Effect.gen(function*() {
          const failed = yield* Effect.exit(connectClient("stdio", undefined))
          expect(failed._tag).toBe("Failure")
        }))

      it.scoped("streamable-http takes POST only", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const headers = { accept: "application/json, text/event-stream" }

          const get = yield* sendAs(tenant.token, "GET", "/mcp", undefined, headers)
          const del = yield* sendAs(tenant.token, "DELETE", "/mcp", undefined, headers)

          const patch = yield* sendAs(tenant.token, "PATCH", "/mcp", {}, headers)
          const options = yield* sendAs(tenant.token, "OPTIONS", "/mcp", undefined, headers)

          expect(get.status).toBe(405)
          expect(del.status).toBe(405)
          expect(patch.status).toBe(405)
          expect(options.status).toBe(405)
          expect(options.body.error.message).toMatch(/POST only/)
          expect(get.body.error.message).toMatch(/POST only/)
        }))

      it.scoped("streamable-http rejects invalid messages", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const headers = { accept: "application/json, text/event-stream" }

          const empty = yield* sendAs(tenant.token, "POST", "/mcp", [], headers)
          expect(empty.status).toBe(400)
          expect(empty.body.error.code).toBe(-32600)
          expect(empty.body.error.message).toMatch(/batch is empty/)

          for (const body of [null, 42, "x", [1, 2], { id: 1, method: "tools/list" }]) {
            const response = yield* sendAs(tenant.token, "POST", "/mcp", body, headers)
            expect(response.status, JSON.stringify(body)).toBe(400)
            expect(response.body.error.code, JSON.stringify(body)).toBe(-32600)
            expect(response.body.error.message, JSON.stringify(body)).toMatch(/"jsonrpc": "2.0"/)
          }

          for (const params of [{ name: "list_recent_sessions", arguments: [1] }, { name: "list_recent_sessions", arguments: "x" }, { name: 5 }]) {
            const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params }
            const response = yield* sendAs(tenant.token, "POST", "/mcp", call, headers)
            expect(response.status, JSON.stringify(params)).toBe(400)
            expect(response.body.error.code, JSON.stringify(params)).toBe(-32602)
            expect(response.body.id, JSON.stringify(params)).toBe(7)
          }

          const listed = yield* sendAs(tenant.token, "POST", "/mcp", [{ jsonrpc: "2.0", id: 1, method: "tools/list" }], headers)
          expect(listed.status).toBe(200)
        }))

      it.scoped("malformed messages get JSON-RPC errors", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const headers = { accept: "application/json, text/event-stream" }
          const endpoint = yield* openSseStream(tenant.token)
          const cases = [
            { body: { jsonrpc: "2.0" }, code: -32600, id: null },
            { body: { jsonrpc: "2.0", id: 1, method: 5 }, code: -32600, id: 1 },
            { body: { jsonrpc: "2.0", id: { a: 1 }, method: "tools/list" }, code: -32600, id: null },
            { body: { jsonrpc: "2.0", id: 2, method: "tools/list", params: [1] }, code: -32602, id: 2 },
            { body: { jsonrpc: "2.0", id: 3, method: "initialize" }, code: -32602, id: 3 },
            { body: { jsonrpc: "2.0", id: 4, method: "initialize", params: { protocolVersion: "2025-03-26" } }, code: -32602, id: 4 }
          ]

          for (const path of ["/mcp", endpoint]) {
            for (const { body, code, id } of cases) {
              const label = `${path} ${JSON.stringify(body)}`
              const response = yield* sendAs(tenant.token, "POST", path, body, headers)
              expect(response.status, label).toBe(400)
              expect(response.body.error.code, label).toBe(code)
              expect(response.body.id, label).toBe(id)
            }
          }
        }))

      it.scoped("SSE messages must be JSON", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const baseUrl = yield* TestServerUrl
          const endpoint = yield* openSseStream(tenant.token)

          const response = yield* Effect.promise(() =>
            fetch(`${baseUrl}${endpoint}`, {
              method: "POST",
              headers: { authorization: `Bearer ${tenant.token}`, "content-type": "text/plain" },
              body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
            })
          )
          const body = yield* Effect.promise(() => response.json() as Promise<any>)

          expect(response.status).toBe(415)
          expect(body.error.code).toBe(-32000)
          expect(body.error.message).toMatch(/application\/json/)
        }))

      it.scoped("request checks reply in JSON-RPC", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const baseUrl = yield* TestServerUrl
          const post = (body: string) =>
            Effect.promise(async () => {
              const response = await fetch(`${baseUrl}/mcp`, {
                method: "POST",
                headers: {
                  authorization: `Bearer ${tenant.token}`,
                  "content-type": "application/json",
                  accept: "application/json, text/event-stream"
                },
                body
              })
              return { status: response.status, body: await response.json() }
            })
          const call = (prompt: string) =>
            JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "create_scenario", arguments: { prompt } } })

          const cases: ReadonlyArray<[string, number, string]> = [
            [call("a\u0000b"), 400, "NUL"],
            [call("a\ud800b"), 400, "surrogate"],
            ["[".repeat(100) + "]".repeat(100), 400, "deeper than"],
            [call("x".repeat(1_100_000)), 413, "larger than"]
          ]
          for (const [body, status, problem] of cases) {
            const response = yield* post(body)
            expect(response.status, problem).toBe(status)
            expect(response.body.jsonrpc, problem).toBe("2.0")
            expect(response.body.error.code, problem).toBe(-32600)
            expect(response.body.error.message, problem).toContain(problem)
          }
        }))

      it.scoped("sse stream rejects HEAD", () =>
        Effect.gen(function*() {
          const tenant = yield* seedTenant("Acme")
          const baseUrl = yield* TestServerUrl
          const head = yield* Effect.promise(() =>
            fetch(`${baseUrl}/mcp/sse`, { method: "HEAD", headers: { authorization: `Bearer ${tenant.token}` } })
          )
          expect(head.status).toBe(405)
          expect(head.headers.get("allow")).toBe("GET")
        }))

      it("stdio: an invalid API URL ends the binary", () => {
        const run = spawnSync(process.execPath, ["--import", "tsx", "src/mcp/stdio.ts"], {
          env: { PATH: process.env.PATH ?? "", SALESLAB_API_URL: "not-a-url", SALESLAB_API_TOKEN: "sl_token_x" },
          input: "",
          encoding: "utf8",
          timeout: 30_000
        })
        expect(run.status).toBe(1)
        expect(run.stderr).toMatch(/SALESLAB_API_URL "not-a-url" is invalid/)
      })

      it.scoped("sse: other token's session is rejected", () =>
        Effect.gen(function*() {
          const first = yield* seedTenant("Acme")
          const second = yield* seedTenant("Globex")
          const endpoint = yield* openSseStream(first.token)
          const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list" }

          const minted = yield* sendAs(first.token, "POST", "/v1/api-tokens", { name: "Other client" })
          expect(minted.status).toBe(201)

          const foreign = yield* sendAs(second.token, "POST", endpoint, listTools)
          const sameCompany = yield* sendAs(minted.body.token, "POST", endpoint, listTools)
          const unknown = yield* sendAs(first.token, "POST", "/mcp/messages?sessionId=no-such-session", listTools)
          const baseUrl = yield* TestServerUrl
          const own = yield* Effect.promise(() =>
            fetch(`${baseUrl}${endpoint}`, {
              method: "POST",
              headers: { authorization: `Bearer ${first.token}`, "content-type": "application/json" },
              body: JSON.stringify(listTools)
            })
          )

          expect(foreign.status).toBe(404)
          expect(foreign.body._tag).toBe("NotFound")
          expect(sameCompany.status).toBe(404)
          expect(unknown.status).toBe(404)
          expect(own.status).toBe(202)
        }))

    })
  })
})
