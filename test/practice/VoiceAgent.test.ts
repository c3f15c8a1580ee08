import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { TestServerLive } from "../support/TestServer.ts"
import { createTenantWithUser, sendJson } from "./PracticeFixtures.ts"

interface FakeElevenLabsState {
  readonly url: string
  readonly requests: Array<{ readonly url: string; readonly apiKey: string | undefined }>
  /** HTTP status of the next responses; with 200 the body carries a signed URL. */
  status: number
}

/** A stand-in for the ElevenLabs API on loopback that records requests. */
class FakeElevenLabs extends Context.Tag("test/FakeElevenLabs")<FakeElevenLabs, FakeElevenLabsState>() {}

const fakeElevenLabs = Effect.gen(function*() {
  const requests: FakeElevenLabsState["requests"] = []
  const server = createServer()
  const state = { url: "", requests, status: 200 }
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    requests.push({ url: request.url ?? "", apiKey: request.headers["xi-api-key"] as string | undefined })
    response.writeHead(state.status, { "content-type": "application/json" })
    response.end(state.status === 200 ? JSON.stringify({ signed_url: "wss://voice.example/convai?token=abc" }) : "{}")
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () => Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
  )
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state as FakeElevenLabsState
})

const ServerWithVoiceAgent = Layer.unwrapScoped(
  Effect.map(fakeElevenLabs, (fake) =>
    TestServerLive({
      elevenLabsApiKey: Option.some(Redacted.make("xi_test_key")),
      elevenLabsAgentId: Option.some("agent_practice_1"),
      elevenLabsApiUrl: fake.url
    }).pipe(Layer.merge(Layer.succeed(FakeElevenLabs, fake))))
)

describe("Practice calls with a voice agent", () => {
  it.layer(ServerWithVoiceAgent)((it) => {
    it.effect("returns the signed conversation URL", () =>
      Effect.gen(function*() {
        const fake = yield* FakeElevenLabs
        fake.status = 200
        const tenant = yield* createTenantWithUser("Acme")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: tenant.userId
        })

        expect(call.status).toBe(201)
        expect(call.body!.signed_url).toBe("wss://voice.example/convai?token=abc")
        expect(fake.requests.at(-1)).toEqual({
          url: "/v1/convai/conversation/get-signed-url?agent_id=agent_practice_1",
          apiKey: "xi_test_key"
        })
      }))

    it.effect("agent failure is 500 and starts nothing", () =>
      Effect.gen(function*() {
        const fake = yield* FakeElevenLabs
        fake.status = 503
        const tenant = yield* createTenantWithUser("Acme")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: tenant.userId
        })

        expect(call.status).toBe(500)
        expect(call.body!._tag).toBe("InternalError")
        expect(JSON.stringify(call.body)).not.toContain("503")
        const sql = yield* SqlClient.SqlClient
        const sessions = yield* sql`SELECT id FROM practice_sessions WHERE company_id = ${tenant.companyId}`
        expect(sessions).toHaveLength(0)
      }))
  })
})
