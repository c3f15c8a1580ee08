import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { insertUser } from "../coaching/BriefsFixtures.ts"
import { TestServerLive } from "../support/TestServer.ts"
import { createTenantWithUser, sendJson, setDefaultRep, startClock, testNow } from "./PracticeFixtures.ts"

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("Practice API", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("scenario title derived from prompt", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const prompt = "You are Dana, a VP of operations who missed eleven percent of delivery windows. Push back on price."

        const response = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt })

        expect(response.status).toBe(201)
        expect(Object.keys(response.body!).sort()).toEqual(["created_at", "id", "pass_mark", "prompt", "title"])
        expect(response.body!.id).toMatch(uuid)
        expect(response.body!.title).toBe("You are Dana, a VP of operations who missed eleven percent of delivery windows.")
        expect(response.body!.prompt).toBe(prompt)
        expect(response.body!.pass_mark).toBe(70)
        expect(response.body!.created_at).toBe(new Date(testNow).toISOString())
      }))

    it.effect("scenario keeps given title and pass mark", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const response = yield* sendJson(tenant.token, "POST", "/v1/scenarios", {
          prompt: "A procurement lead who wants a 30% discount.",
          title: "  Discount pressure  ",
          pass_mark: 85
        })
        expect(response.status).toBe(201)
        expect(response.body!.title).toBe("Discount pressure")
        expect(response.body!.pass_mark).toBe(85)

        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ company_id: string; pass_mark: number }>`
          SELECT company_id, pass_mark FROM scenarios WHERE id = ${response.body!.id}`
        expect(rows).toEqual([{ company_id: tenant.companyId, pass_mark: 85 }])
      }))

    it.effect("long prompt title cut at a word", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const prompt = `${"Buyer with a very long and winding backstory about procurement ".repeat(3)}\nSecond line.`
        const response = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt })
        const title = response.body!.title as string
        expect(title.length).toBeLessThanOrEqual(80)
        expect(title.endsWith("…")).toBe(true)
        expect(prompt.startsWith(title.slice(0, -1))).toBe(true)
      }))

    it.effect("invalid scenarios are 400 naming the field", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const cases: ReadonlyArray<[unknown, string]> = [
          [{}, "prompt"],
          [{ prompt: "   " }, "prompt"],
          [{ prompt: "x".repeat(4001) }, "prompt"],
          [{ prompt: "fine", pass_mark: 101 }, "pass_mark"],
          [{ prompt: "fine", pass_mark: 7.5 }, "pass_mark"],
          [{ prompt: "fine", title: "" }, "title"]
        ]
        for (const [body, field] of cases) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/scenarios", body)
          expect(response.status, JSON.stringify(body)).toBe(400)
          expect(typeof response.body!.message).toBe("string")
          expect(JSON.stringify(response.body), JSON.stringify(body)).toContain(field)
        }
        const longest = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "x".repeat(4000) })
        expect(longest.status).toBe(201)

        // Limits are stated in the message, not only in the field's description.
        const limits: ReadonlyArray<[unknown, string]> = [
          [{ prompt: "x".repeat(4001) }, "'prompt': must be at most 4000 characters"],
          [{ prompt: "fine", title: "t".repeat(201) }, "'title': must be at most 200 characters"],
          [{ prompt: "fine", pass_mark: -1 }, "'pass_mark': must be an integer from 0 to 100"]
        ]
        for (const [body, message] of limits) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/scenarios", body)
          expect(response.body!.message, message).toContain(message)
        }
      }))

    it.effect("read-only token cannot write", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme", ["read"])
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        expect(scenario.status).toBe(403)
        expect(scenario.body!._tag).toBe("Forbidden")

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: randomUUID(),
          user_id: tenant.userId
        })
        expect(call.status).toBe(403)

        const list = yield* sendJson(tenant.token, "GET", "/v1/sessions")
        expect(list.status).toBe(200)
      }))

    it.effect("missing token is 401", () =>
      Effect.gen(function*() {
        const response = yield* sendJson("sl_token_unknown000000000000000000000000000", "GET", "/v1/sessions")
        expect(response.status).toBe(401)
      }))

    it.effect("practice call starts a session", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: tenant.userId
        })

        expect(call.status).toBe(201)
        const sessionId = call.body!.session_id as string
        expect(sessionId).toMatch(uuid)
        expect(call.body).toStrictEqual({
          session_id: sessionId,
          status: "started",
          scenario_id: scenario.body!.id,
          user_id: tenant.userId,
          started_at: call.body!.started_at,
          dynamic_variables: {
            saleslab_session_id: sessionId,
            saleslab_company_id: tenant.companyId,
            saleslab_user_id: tenant.userId,
            saleslab_scenario_id: scenario.body!.id
          },
          signed_url: null
        })
        expect(Date.parse(call.body!.started_at)).toBeGreaterThanOrEqual(testNow)

        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ company_id: string; status: string; ended_at: Date | null }>`
          SELECT company_id, status, ended_at FROM practice_sessions WHERE id = ${sessionId}`
        expect(rows).toEqual([{ company_id: tenant.companyId, status: "started", ended_at: null }])
      }))

    it.effect("practice call on unknown ids is 404", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        const otherScenario = yield* sendJson(other.token, "POST", "/v1/scenarios", { prompt: "Another buyer." })

        const unknownScenario = randomUUID()
        const missing = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: unknownScenario,
          user_id: tenant.userId
        })
        expect(missing.status).toBe(404)
        expect(missing.body!._tag).toBe("NotFound")
        expect(missing.body!.message).toBe(`Scenario ${unknownScenario} not found.`)

        const foreignScenario = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: otherScenario.body!.id,
          user_id: tenant.userId
        })
        expect(foreignScenario.status).toBe(404)
        expect(foreignScenario.body!.message).toBe(`Scenario ${otherScenario.body!.id} not found.`)

        const foreignUser = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: other.userId
        })
        expect(foreignUser.status).toBe(404)
        expect(foreignUser.body!.message).toBe(`User ${other.userId} not found.`)

        const sql = yield* SqlClient.SqlClient
        const sessions = yield* sql`SELECT id FROM practice_sessions WHERE company_id = ${tenant.companyId}`
        expect(sessions).toHaveLength(0)
      }))

    it.effect("practice call uses default rep", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        yield* setDefaultRep(tenant.token, tenant.userId)

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", { scenario_id: scenario.body!.id })

        expect(call.status).toBe(201)
        expect(call.body!.user_id).toBe(tenant.userId)
        expect(call.body!.dynamic_variables.saleslab_user_id).toBe(tenant.userId)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ user_id: string }>`
          SELECT user_id FROM practice_sessions WHERE id = ${call.body!.session_id}`
        expect(rows).toEqual([{ user_id: tenant.userId }])
      }))

    it.effect("practice call without user or default is 400", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })

        const missing = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", { scenario_id: scenario.body!.id })
        expect(missing.status).toBe(400)
        expect(missing.body!._tag).toBe("BadRequest")
        expect(missing.body!.field).toBe("user_id")
        expect(missing.body!.message).toContain("default_user_id")
        expect(missing.body!.message).toContain("PATCH /v1/api-tokens/{id}")

        yield* setDefaultRep(tenant.token, tenant.userId)
        yield* setDefaultRep(tenant.token, null)
        const afterClear = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", { scenario_id: scenario.body!.id })
        expect(afterClear.status).toBe(400)
        expect(afterClear.body!.field).toBe("user_id")

        const nullUser = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: null
        })
        expect(nullUser.status).toBe(400)
        expect(JSON.stringify(nullUser.body)).toContain("user_id")

        const sql = yield* SqlClient.SqlClient
        const sessions = yield* sql`SELECT id FROM practice_sessions WHERE company_id = ${tenant.companyId}`
        expect(sessions).toHaveLength(0)
      }))

    it.effect("explicit user_id wins over default", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const secondUser = (yield* insertUser(tenant.companyId, "Sam Second")).id
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        yield* setDefaultRep(tenant.token, tenant.userId)

        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: secondUser
        })
        expect(call.status).toBe(201)
        expect(call.body!.user_id).toBe(secondUser)
        expect(call.body!.dynamic_variables.saleslab_user_id).toBe(secondUser)

        const foreignUser = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: other.userId
        })
        expect(foreignUser.status).toBe(404)
        expect(foreignUser.body!.message).toBe(`User ${other.userId} not found.`)

        const sql = yield* SqlClient.SqlClient
        const sessions = yield* sql<{ user_id: string }>`
          SELECT user_id FROM practice_sessions WHERE company_id = ${tenant.companyId}`
        expect(sessions).toEqual([{ user_id: secondUser }])
      }))

    it.effect("practice call with invalid id is 400", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const response = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: "not-a-uuid",
          user_id: tenant.userId
        })
        expect(response.status).toBe(400)
        expect(JSON.stringify(response.body)).toContain("scenario_id")
      }))

    it.effect("sessions list newest first with cursor", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const sql = yield* SqlClient.SqlClient
        const secondUser = randomUUID()
        yield* sql`
          INSERT INTO users (id, company_id, email, name, role)
          VALUES (${secondUser}, ${tenant.companyId}, ${"second@example.com"}, ${"Sam Second"}, 'rep')`
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        const otherScenario = yield* sendJson(other.token, "POST", "/v1/scenarios", { prompt: "A buyer." })

        // Calls in one test share the test clock's instant, so start times are set apart by hand.
        const started: Array<string> = []
        for (const [index, userId] of [tenant.userId, secondUser, tenant.userId].entries()) {
          const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
            scenario_id: scenario.body!.id,
            user_id: userId
          })
          const startedAt = new Date(testNow + index * 60_000)
          yield* sql`UPDATE practice_sessions SET started_at = ${startedAt} WHERE id = ${call.body!.session_id}`
          started.push(call.body!.session_id)
        }
        yield* sendJson(other.token, "POST", "/v1/practice-calls", {
          scenario_id: otherScenario.body!.id,
          user_id: other.userId
        })

        const all = yield* sendJson(tenant.token, "GET", "/v1/sessions")
        expect(all.status).toBe(200)
        expect(all.body!.data.map((session: { id: string }) => session.id)).toEqual([...started].reverse())
        expect(all.body!.next_cursor).toBeNull()
        expect(all.body!.data[0]).toStrictEqual({
          id: started[2],
          user_id: tenant.userId,
          scenario_id: scenario.body!.id,
          status: "started",
          started_at: new Date(testNow + 120_000).toISOString(),
          ended_at: null
        })

        const firstPage = yield* sendJson(tenant.token, "GET", "/v1/sessions?limit=2")
        expect(firstPage.body!.data.map((session: { id: string }) => session.id)).toEqual([started[2], started[1]])
        expect(typeof firstPage.body!.next_cursor).toBe("string")
        const secondPage = yield* sendJson(
          tenant.token,
          "GET",
          `/v1/sessions?limit=2&cursor=${encodeURIComponent(firstPage.body!.next_cursor)}`
        )
        expect(secondPage.body!.data.map((session: { id: string }) => session.id)).toEqual([started[0]])
        expect(secondPage.body!.next_cursor).toBeNull()

        const byUser = yield* sendJson(tenant.token, "GET", `/v1/sessions?user_id=${tenant.userId}`)
        expect(byUser.body!.data.map((session: { id: string }) => session.id)).toEqual([started[2], started[0]])
      }))

    it.effect("sessions list rejects bad parameters", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const badCursor = yield* sendJson(tenant.token, "GET", "/v1/sessions?cursor=bm90LWEtY3Vyc29y")
        expect(badCursor.status).toBe(400)
        expect(badCursor.body!.field).toBe("cursor")
        const badLimit = yield* sendJson(tenant.token, "GET", "/v1/sessions?limit=101")
        expect(badLimit.status).toBe(400)
        const badUser = yield* sendJson(tenant.token, "GET", "/v1/sessions?user_id=42")
        expect(badUser.status).toBe(400)
      }))

    it.effect("scorecard 404 tells unscored from unknown", () =>
      Effect.gen(function*() {
        const tenant = yield* createTenantWithUser("Acme")
        const other = yield* createTenantWithUser("Globex")
        const scenario = yield* sendJson(tenant.token, "POST", "/v1/scenarios", { prompt: "A buyer." })
        const call = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: scenario.body!.id,
          user_id: tenant.userId
        })
        const sessionId = call.body!.session_id as string

        const unscored = yield* sendJson(tenant.token, "GET", `/v1/sessions/${sessionId}/scorecard`)
        expect(unscored.status).toBe(404)
        expect(unscored.body!.message).toContain("has no scorecard yet")

        const unknownId = randomUUID()
        const unknown = yield* sendJson(tenant.token, "GET", `/v1/sessions/${unknownId}/scorecard`)
        expect(unknown.status).toBe(404)
        expect(unknown.body!.message).toBe(`Practice session ${unknownId} not found.`)

        const foreign = yield* sendJson(other.token, "GET", `/v1/sessions/${sessionId}/scorecard`)
        expect(foreign.status).toBe(404)
        expect(foreign.body!.message).toBe(`Practice session ${sessionId} not found.`)
      }))
  })
})
