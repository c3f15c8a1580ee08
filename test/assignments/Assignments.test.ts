import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { TestServerLive } from "../support/TestServer.ts"
import {
  createTenantWithUser,
  insertSubscription,
  postCallBody,
  postWebhook,
  sendJson,
  signNow,
  startClock,
  startPracticeCall
} from "../practice/PracticeFixtures.ts"
import { decodeBody, deliveriesOf, eventCount, rejectEventsOf } from "../gamification/EventFixtures.ts"

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Creates an assignment through the route and returns the response body. */
const assign = (token: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const response = yield* sendJson(token, "POST", "/v1/assignments", body)
    expect(response.status, JSON.stringify(response.body)).toBe(201)
    return response.body!
  })

const assignmentRow = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ status: string; session_id: string | null; scorecard_id: string | null; completed_at: Date | null }>`
      SELECT status, session_id, scorecard_id, completed_at FROM assignments WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0]!)
  )

const assignmentCount = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ count: number }>`SELECT count(*)::int AS count FROM assignments`).pipe(Effect.map((rows) => rows[0]!.count))

/** Posts the signed post-call webhook for a started call and returns the response. */
const completeCall = (variables: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const body = postCallBody(variables)
    return yield* postWebhook(body, yield* signNow(body))
  })

describe("Assignments", () => {
  it.layer(TestServerLive())((it) => {
    it.effect("create returns open assignment", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()

        const created = yield* assign(tenant.token, {
          user_id: tenant.userId,
          scenario_id: call.scenario_id,
          due_at: "2026-06-01T09:00:00Z"
        })

        expect(created.id).toMatch(uuid)
        expect(created).toStrictEqual({
          id: created.id,
          user_id: tenant.userId,
          scenario_id: call.scenario_id,
          status: "open",
          due_at: "2026-06-01T09:00:00.000Z",
          created_at: now,
          completed_at: null,
          session_id: null
        })
        const read = yield* sendJson(tenant.token, "GET", `/v1/assignments/${created.id}`)
        expect(read.status).toBe(200)
        expect(read.body).toStrictEqual(created)

        const withoutDue = yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: call.scenario_id })
        expect(withoutDue.due_at).toBeNull()
        const nullDue = yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: call.scenario_id, due_at: null })
        expect(nullDue.due_at).toBeNull()
      }))

    it.effect("list filters and pages", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const sql = yield* SqlClient.SqlClient
        const otherUser = randomUUID()
        yield* sql`
          INSERT INTO users (id, company_id, email, name, role)
          VALUES (${otherUser}, ${tenant.companyId}, ${`rep-${otherUser}@example.com`}, ${"Sam Rep"}, 'rep')`
        const other = yield* createTenantWithUser("Globex")
        const foreignCall = yield* startPracticeCall(other)
        yield* assign(other.token, { user_id: other.userId, scenario_id: foreignCall.scenario_id })

        const ids: Array<string> = []
        for (const userId of [tenant.userId, otherUser, tenant.userId]) {
          yield* TestClock.adjust("1 second")
          ids.push((yield* assign(tenant.token, { user_id: userId, scenario_id: call.scenario_id })).id)
        }
        yield* sql`UPDATE assignments SET status = 'completed', completed_at = now() WHERE id = ${ids[0]!}`

        const all = yield* sendJson(tenant.token, "GET", "/v1/assignments")
        expect(all.status).toBe(200)
        expect(all.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[2], ids[1], ids[0]])
        expect(all.body!.next_cursor).toBeNull()

        const mine = yield* sendJson(tenant.token, "GET", `/v1/assignments?user_id=${tenant.userId}`)
        expect(mine.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[2], ids[0]])

        const open = yield* sendJson(tenant.token, "GET", `/v1/assignments?user_id=${tenant.userId}&status=open`)
        expect(open.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[2]])

        const completed = yield* sendJson(tenant.token, "GET", "/v1/assignments?status=completed")
        expect(completed.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[0]])
        expect(completed.body!.data[0].status).toBe("completed")

        const first = yield* sendJson(tenant.token, "GET", "/v1/assignments?limit=2")
        expect(first.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[2], ids[1]])
        expect(typeof first.body!.next_cursor).toBe("string")
        const second = yield* sendJson(tenant.token, "GET", `/v1/assignments?limit=2&cursor=${first.body!.next_cursor}`)
        expect(second.body!.data.map((item: { id: string }) => item.id)).toEqual([ids[0]])
        expect(second.body!.next_cursor).toBeNull()
      }))

    it.effect("invalid input is 400 naming the field", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const valid = { user_id: tenant.userId, scenario_id: call.scenario_id }
        const before = yield* assignmentCount
        const now = yield* Clock.currentTimeMillis

        const cases: ReadonlyArray<[unknown, string]> = [
          [{ scenario_id: call.scenario_id }, "user_id"],
          [{ user_id: tenant.userId }, "scenario_id"],
          [{ ...valid, user_id: "42" }, "user_id"],
          [{ ...valid, scenario_id: "not-a-uuid" }, "scenario_id"],
          [{ ...valid, due_at: "next friday" }, "due_at"],
          [{ ...valid, due_at: 1234 }, "due_at"],
          [{ ...valid, due_at: new Date(now - 60_000).toISOString() }, "due_at"]
        ]
        for (const [body, field] of cases) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/assignments", body)
          expect(response.status, JSON.stringify(body)).toBe(400)
          expect(JSON.stringify(response.body), JSON.stringify(body)).toContain(field)
        }
        const past = yield* sendJson(tenant.token, "POST", "/v1/assignments", {
          ...valid,
          due_at: new Date(now - 60_000).toISOString()
        })
        expect(past.body).toMatchObject({ _tag: "BadRequest", field: "due_at" })

        // Text that Date parses but that is not an ISO 8601 timestamp with a four-digit year.
        for (const dueAt of ["+275760-09-13T00:00:00Z", "10000-01-01T00:00:00Z", "May 19 2099", "2099-05-19"]) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/assignments", { ...valid, due_at: dueAt })
          expect(response.status, dueAt).toBe(400)
          expect(response.body!.message, dueAt).toContain("'due_at': must be an ISO 8601 timestamp with a time zone")
          expect(response.body!.message, dueAt).not.toContain("Expected null")
        }
        // Days and times that do not exist, which Date would move on, such as February 30 to March 2.
        for (const dueAt of ["2099-02-30T09:00:00Z", "2099-02-29T09:00:00Z", "2099-04-31T09:00:00Z", "2099-05-19T24:00:00Z", "2099-05-19T09:00:00+25:00"]) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/assignments", { ...valid, due_at: dueAt })
          expect(response.status, dueAt).toBe(400)
          expect(response.body!.message, dueAt).toContain(`'due_at': "${dueAt}" is out of range`)
        }

        const badQuery = yield* sendJson(tenant.token, "GET", "/v1/assignments?status=done")
        expect(badQuery.status).toBe(400)
        expect(JSON.stringify(badQuery.body)).toContain("status")
        const badCursor = yield* sendJson(tenant.token, "GET", "/v1/assignments?cursor=bm90LWEtY3Vyc29y")
        expect(badCursor.status).toBe(400)
        expect(badCursor.body!.field).toBe("cursor")
        const badId = yield* sendJson(tenant.token, "GET", "/v1/assignments/42")
        expect(badId.status).toBe(400)

        expect(yield* assignmentCount).toBe(before)
        const leapDay = yield* sendJson(tenant.token, "POST", "/v1/assignments", { ...valid, due_at: "2096-02-29T09:00:00Z" })
        expect(leapDay.status).toBe(201)
      }))

    it.effect("unknown or foreign ids are 404", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const other = yield* createTenantWithUser("Globex")
        const foreignCall = yield* startPracticeCall(other)
        const before = yield* assignmentCount
        const unknownUser = randomUUID()
        const unknownScenario = randomUUID()

        const cases: ReadonlyArray<[Record<string, string>, string]> = [
          [{ user_id: unknownUser, scenario_id: call.scenario_id }, `User ${unknownUser} not found.`],
          [{ user_id: other.userId, scenario_id: call.scenario_id }, `User ${other.userId} not found.`],
          [{ user_id: tenant.userId, scenario_id: unknownScenario }, `Scenario ${unknownScenario} not found.`],
          [
            { user_id: tenant.userId, scenario_id: foreignCall.scenario_id },
            `Scenario ${foreignCall.scenario_id} not found.`
          ]
        ]
        for (const [body, message] of cases) {
          const response = yield* sendJson(tenant.token, "POST", "/v1/assignments", body)
          expect(response.status, JSON.stringify(body)).toBe(404)
          expect(response.body, JSON.stringify(body)).toStrictEqual({ _tag: "NotFound", message })
        }
        expect(yield* assignmentCount).toBe(before)

        const foreign = yield* assign(other.token, { user_id: other.userId, scenario_id: foreignCall.scenario_id })
        const read = yield* sendJson(tenant.token, "GET", `/v1/assignments/${foreign.id}`)
        expect(read.status).toBe(404)
        expect(read.body!.message).toBe(`Assignment ${foreign.id} not found.`)
        const listed = yield* sendJson(tenant.token, "GET", `/v1/assignments?user_id=${other.userId}`)
        expect(listed.body!.data).toEqual([])
      }))

    it.effect("scopes are enforced", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const readOnly = yield* createTenantWithUser("Readers", ["read"])
        const writeOnly = yield* createTenantWithUser("Writers", ["write"])

        const create = yield* sendJson(readOnly.token, "POST", "/v1/assignments", {
          user_id: readOnly.userId,
          scenario_id: call.scenario_id
        })
        expect(create.status).toBe(403)
        const list = yield* sendJson(writeOnly.token, "GET", "/v1/assignments")
        expect(list.status).toBe(403)
        const unauthenticated = yield* sendJson("sl_token_not_a_real_token_0123456789abcdef", "GET", "/v1/assignments")
        expect(unauthenticated.status).toBe(401)
        expect(tenant.companyId).not.toBe(readOnly.companyId)
      }))

    it.effect("post-call completes oldest open assignment", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const otherScenarioCall = yield* startPracticeCall(tenant)
        const everything = yield* insertSubscription(tenant.companyId)
        const assignmentsOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["assignment.completed"] })
        const sessionsOnly = yield* insertSubscription(tenant.companyId, { eventKinds: ["session.completed"] })
        const paused = yield* insertSubscription(tenant.companyId, { status: "paused" })

        // Two assignments in the same millisecond: the one created first is the oldest.
        const oldest = yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: call.scenario_id })
        const newer = yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: call.scenario_id })
        const otherScenario = yield* assign(tenant.token, {
          user_id: tenant.userId,
          scenario_id: otherScenarioCall.scenario_id
        })
        yield* TestClock.adjust("2 minutes")
        const completedAt = new Date(yield* Clock.currentTimeMillis).toISOString()

        const response = yield* completeCall(call.dynamic_variables)

        expect(response.body!.status).toBe("processed")
        const scorecardId = response.body!.scorecard_id as string
        const closed = yield* sendJson(tenant.token, "GET", `/v1/assignments/${oldest.id}`)
        expect(closed.body).toStrictEqual({
          ...oldest,
          status: "completed",
          completed_at: completedAt,
          session_id: call.session_id
        })
        expect((yield* assignmentRow(oldest.id)).scorecard_id).toBe(scorecardId)
        expect((yield* assignmentRow(newer.id)).status).toBe("open")
        expect((yield* assignmentRow(otherScenario.id)).status).toBe("open")

        const expected = {
          event_kind: "assignment.completed",
          company_id: tenant.companyId,
          assignment_id: oldest.id,
          user_id: tenant.userId,
          scenario_id: call.scenario_id,
          session_id: call.session_id,
          scorecard_id: scorecardId,
          overall_score: 78,
          completed_at: completedAt
        }
        for (const subscription of [everything, assignmentsOnly]) {
          const deliveries = yield* deliveriesOf(subscription, "assignment.completed")
          expect(deliveries.map((delivery) => delivery.delivery_id)).toEqual([
            `assignment.completed:${oldest.id}:${subscription}`
          ])
          expect(decodeBody("assignment.completed", deliveries[0]!.body)).toStrictEqual(expected)
        }
        expect((yield* deliveriesOf(assignmentsOnly)).map((delivery) => delivery.event_kind)).toEqual([
          "assignment.completed"
        ])
        expect(yield* deliveriesOf(sessionsOnly, "assignment.completed")).toHaveLength(0)
        expect(yield* deliveriesOf(paused)).toHaveLength(0)

        const repeated = yield* completeCall(call.dynamic_variables)
        expect(repeated.body!.status).toBe("duplicate")
        expect(yield* deliveriesOf(everything, "assignment.completed")).toHaveLength(1)
        expect((yield* assignmentRow(newer.id)).status).toBe("open")

        const nextCall = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: call.scenario_id,
          user_id: tenant.userId
        })
        const next = yield* completeCall(nextCall.body!.dynamic_variables)
        expect(next.body!.status).toBe("processed")
        const newerRow = yield* assignmentRow(newer.id)
        expect(newerRow.status).toBe("completed")
        expect(newerRow.session_id).toBe(nextCall.body!.session_id)
        expect((yield* deliveriesOf(everything, "assignment.completed")).map((delivery) => delivery.delivery_id)).toEqual([
          `assignment.completed:${oldest.id}:${everything}`,
          `assignment.completed:${newer.id}:${everything}`
        ])
      }))

    it.effect("session without open assignment closes none", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const subscription = yield* insertSubscription(tenant.companyId)
        const otherUser = yield* createTenantWithUser("Globex")
        const foreignCall = yield* startPracticeCall(otherUser)
        const foreign = yield* assign(otherUser.token, {
          user_id: otherUser.userId,
          scenario_id: foreignCall.scenario_id
        })
        const before = yield* eventCount("assignment.completed")

        const response = yield* completeCall(call.dynamic_variables)

        expect(response.body!.status).toBe("processed")
        expect(yield* deliveriesOf(subscription, "assignment.completed")).toHaveLength(0)
        expect(yield* eventCount("assignment.completed")).toBe(before)
        expect((yield* assignmentRow(foreign.id)).status).toBe("open")
      }))

    it.effect("concurrent sessions close different assignments", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const first = yield* startPracticeCall(tenant)
        const secondResponse = yield* sendJson(tenant.token, "POST", "/v1/practice-calls", {
          scenario_id: first.scenario_id,
          user_id: tenant.userId
        })
        const second = secondResponse.body!
        const subscription = yield* insertSubscription(tenant.companyId, { eventKinds: ["assignment.completed"] })
        const assignments = [
          yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: first.scenario_id }),
          yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: first.scenario_id }),
          yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: first.scenario_id })
        ]

        const responses = yield* Effect.all(
          [completeCall(first.dynamic_variables), completeCall(second.dynamic_variables)],
          { concurrency: "unbounded" }
        )

        expect(responses.map((response) => response.body!.status)).toEqual(["processed", "processed"])
        const rows = yield* Effect.forEach(assignments, (assignment) => assignmentRow(assignment.id))
        expect(rows.map((row) => row.status).sort()).toEqual(["completed", "completed", "open"])
        expect(rows[2]!.status).toBe("open")
        expect(rows.slice(0, 2).map((row) => row.session_id).sort()).toEqual([first.session_id, second.session_id].sort())
        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries.map((delivery) => delivery.delivery_id).sort()).toEqual(
          assignments.slice(0, 2).map((assignment) => `assignment.completed:${assignment.id}:${subscription}`).sort()
        )
      }))

    it.effect("failed publish rolls back completion", () =>
      Effect.gen(function*() {
        yield* startClock
        const tenant = yield* createTenantWithUser("Acme")
        const call = yield* startPracticeCall(tenant)
        const subscription = yield* insertSubscription(tenant.companyId)
        const assignment = yield* assign(tenant.token, { user_id: tenant.userId, scenario_id: call.scenario_id })
        const sql = yield* SqlClient.SqlClient

        const failed = yield* Effect.scoped(
          Effect.zipRight(rejectEventsOf("assignment.completed"), completeCall(call.dynamic_variables))
        )

        expect(failed.status).toBe(500)
        expect(JSON.stringify(failed.body)).not.toContain("test trigger")
        expect(yield* assignmentRow(assignment.id)).toStrictEqual({
          status: "open",
          session_id: null,
          scorecard_id: null,
          completed_at: null
        })
        const session = yield* sql<{ status: string }>`SELECT status FROM practice_sessions WHERE id = ${call.session_id}`
        expect(session[0]!.status).toBe("started")
        const scorecards = yield* sql`SELECT id FROM scorecards WHERE session_id = ${call.session_id}`
        expect(scorecards).toHaveLength(0)
        expect(yield* deliveriesOf(subscription)).toHaveLength(0)

        const retried = yield* completeCall(call.dynamic_variables)
        expect(retried.body!.status).toBe("processed")
        expect((yield* assignmentRow(assignment.id)).status).toBe("completed")
        expect(yield* deliveriesOf(subscription, "assignment.completed")).toHaveLength(1)
      }))
  })
})
