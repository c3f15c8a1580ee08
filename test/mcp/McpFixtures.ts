import { SqlClient } from "@effect/sql"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { insertScenario, insertScorecard, insertUser } from "../coaching/BriefsFixtures.ts"
import { createTenant } from "../support/Tenants.ts"
import { TestServerUrl } from "../support/TestServer.ts"

/** The three ways a client reaches the tools. */
export type TransportKind = "streamable-http" | "sse" | "stdio"

export const transportKinds: ReadonlyArray<TransportKind> = ["streamable-http", "sse", "stdio"]

/** A tenant with a rep, a scenario, two scored sessions and a coaching brief. */
export interface SeededTenant {
  readonly companyId: string
  readonly token: string
  readonly userId: string
  readonly scenarioId: string
  readonly sessionIds: ReadonlyArray<string>
  readonly briefId: string
}

/** Inserts a brief of the user for the week starting `weekStart` and returns its id. */
const insertBrief = (companyId: string, userId: string, weekStart: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = randomUUID()
    yield* sql`
      INSERT INTO coaching_briefs (id, company_id, user_id, week_start, week_end, summary, celebrate, coach, sent_at, message_id)
      VALUES (${id}, ${companyId}, ${userId}, ${weekStart}::date, ${weekStart}::date + 6, ${"Two calls, one passed."},
        ${["Passed Pilot close"]}, ${["Ask for the next step"]}, ${new Date("2026-05-18T07:00:00.000Z")}, ${`<${id}@test>`})`
    return id
  })

/** Creates a tenant with data for every tool, through the database. */
export const seedTenant = (name: string) =>
  Effect.gen(function*() {
    const tenant = yield* createTenant(name)
    const user = yield* insertUser(tenant.companyId, `${name} Rep`)
    const scenarioId = yield* insertScenario(tenant.companyId, "Pilot close")
    const target = { companyId: tenant.companyId, userId: user.id, scenarioId }
    const fields = {
      verdict: "pass" as const,
      category_scores: { discovery: 9, objection_handling: 7, control: 8 },
      best_line: "Let's put a date on the pilot.",
      worst_line: "Um, so, yeah.",
      next_drill: "multi-threading the deal"
    }
    yield* insertScorecard(target, "2026-05-12T10:00:00.000Z", { ...fields, overall_score: 81 })
    yield* insertScorecard(target, "2026-05-13T10:00:00.000Z", { ...fields, overall_score: 64, verdict: "fail" })
    const sql = yield* SqlClient.SqlClient
    const sessions = yield* sql<{ id: string }>`
      SELECT id FROM practice_sessions WHERE company_id = ${tenant.companyId} ORDER BY started_at DESC`
    const briefId = yield* insertBrief(tenant.companyId, user.id, "2026-05-11")
    const seeded: SeededTenant = {
      companyId: tenant.companyId,
      token: tenant.token,
      userId: user.id,
      scenarioId,
      sessionIds: sessions.map((row) => row.id),
      briefId
    }
    return seeded
  })

/** Builds the client transport of `kind` for the test server, with `token` as bearer when given. */
export const clientTransport = (kind: TransportKind, baseUrl: string, token: string | undefined): Transport => {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` }
  switch (kind) {
    case "streamable-http":
      return new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers } })
    case "sse":
      return new SSEClientTransport(new URL(`${baseUrl}/mcp/sse`), { requestInit: { headers } })
    case "stdio":
      return new StdioClientTransport({
        command: process.execPath,
        args: ["--import", "tsx", "src/mcp/stdio.ts"],
        env: {
          PATH: process.env.PATH ?? "",
          SALESLAB_API_URL: baseUrl,
          ...(token === undefined ? {} : { SALESLAB_API_TOKEN: token })
        },
        stderr: "pipe"
      })
  }
}

/** Connects an MCP client over `kind` with `token`, closed with the test's scope. */
export const connectClient = (kind: TransportKind, token: string | undefined) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const client = new Client({ name: "saleslab-tests", version: "0.0.0" })
    yield* Effect.acquireRelease(
      Effect.promise(() => client.connect(clientTransport(kind, baseUrl, token))),
      () => Effect.promise(() => client.close())
    )
    return client
  })

/** A tool result as the tests read it. */
export interface ToolResult {
  readonly content: ReadonlyArray<{ readonly type: string; readonly text?: string }>
  readonly structuredContent?: unknown
  readonly isError?: boolean
}

/** Calls a tool and returns its result, failing the test only if the transport fails. */
export const callTool = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  Effect.promise(() => client.callTool({ name, arguments: args }) as Promise<ToolResult>)

/** The text of a tool result's first content block. */
export const firstText = (result: ToolResult) => result.content[0]?.text ?? ""

/**
 * Opens an SSE stream at `/mcp/sse` with `token`, kept open until the test's
 * scope closes, and returns the message endpoint the stream announces.
 */
export const openSseStream = (token: string) =>
  Effect.gen(function*() {
    const baseUrl = yield* TestServerUrl
    const abort = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (controller) => Effect.sync(() => controller.abort())
    )
    return yield* Effect.promise(async () => {
      const response = await fetch(`${baseUrl}/mcp/sse`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: abort.signal
      })
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let received = ""
      while (true) {
        const { done, value } = await reader.read()
        if (done) throw new Error(`The SSE stream ended before announcing its endpoint: ${received}`)
        received += value
        const endpoint = /event: endpoint\ndata: (\S+)\n/.exec(received)
        if (endpoint !== null) return endpoint[1]!
      }
    })
  })
