import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Option, TestClock } from "effect"
import pg from "pg"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import {
  createTenantWithUser,
  postCallBody,
  postWebhook,
  signNow,
  startClock,
  startPracticeCall
} from "../practice/PracticeFixtures.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"
import { adminDatabaseName, withAdminClient } from "../support/TestDatabase.ts"
import { TestServerLive } from "../support/TestServer.ts"

/** Statement timeout of the warehouse logins in this suite. */
const statementTimeout = Duration.seconds(1)

const SuiteLive = TestServerLive({
  warehouse: { host: Option.none(), port: Option.none(), connectionLimit: 2, loginsPerCompany: 3, statementTimeout }
})

/** Category scores of one graded call. */
type Scores = Readonly<Record<string, number>>

/** Completes a practice call of the tenant's user through the post-call webhook, graded with `scores`. */
const scoredCall = (tenant: { readonly token: string; readonly userId: string }, overall: number, scores: Scores) =>
  Effect.gen(function*() {
    const call = yield* startPracticeCall(tenant)
    const body = postCallBody(call.dynamic_variables, (payload) => {
      const items = payload.data.analysis.data_collection_results
      items.overall_score.value = overall
      for (const key of Object.keys(items)) {
        if (key.startsWith("score_")) delete items[key]
      }
      for (const [skill, value] of Object.entries(scores)) {
        items[`score_${skill}`] = { data_collection_id: `score_${skill}`, value, json_schema: { type: "integer" } }
      }
      payload.data.analysis.evaluation_criteria_results = {}
    })
    const response = yield* postWebhook(body, yield* signNow(body))
    expect(response.status).toBe(200)
    // The next call is scored later, so that scorecards and snapshots have an order in time.
    yield* TestClock.adjust(Duration.minutes(1))
    return call.session_id
  })

/** A warehouse login made through the API, as its response describes it. */
interface Login {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  readonly password: string
}

/** Creates a warehouse login through the API, revoked again when the test's scope closes. */
const createLogin = (token: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const response = yield* sendAs(token, "POST", "/v1/warehouse/credentials", { name: "Looker" })
      expect(response.status).toBe(201)
      return response.body as Login
    }),
    // PostgreSQL roles outlive the test database, so none is left behind.
    (login) => Effect.ignore(sendAs(token, "DELETE", `/v1/warehouse/credentials/${login.id}`))
  )

/** Connects as `login`, closed with the test's scope. */
const connect = (login: Login) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ ...login, user: login.user, password: login.password })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/** Runs `text` as the client and returns its rows, or the error message of a rejected statement. */
const query = (client: pg.Client, text: string) =>
  Effect.promise(() =>
    client.query(text).then(
      (result) => ({ rows: result.rows as Array<Record<string, unknown>>, error: undefined }),
      (error: Error) => ({ rows: [], error: error.message })
    )
  )

/** Two tenants with scored calls: Acme with three, Globex with one. */
const seedTwoTenants = Effect.gen(function*() {
  yield* startClock
  const acme = yield* createTenantWithUser("Acme")
  const globex = yield* createTenantWithUser("Globex")
  const acmeSessions = [
    yield* scoredCall(acme, 81, { discovery: 9, objection_handling: 6, control: 8, negotiation: 4 }),
    yield* scoredCall(acme, 64, { discovery: 5, objection_handling: 7, control: 6 }),
    yield* scoredCall(acme, 90, { discovery: 10, objection_handling: 8, control: 9, rapport: 7 })
  ]
  const globexSessions = [yield* scoredCall(globex, 40, { discovery: 3, objection_handling: 2, control: 4 })]
  return { acme, globex, acmeSessions, globexSessions }
})

describe("Warehouse views", () => {
  it.layer(SuiteLive, { timeout: 120_000 })((it) => {
    it.scoped("login sees only its company's rows", () =>
      Effect.gen(function*() {
        const { acme, acmeSessions, globex, globexSessions } = yield* seedTwoTenants
        const acmeClient = yield* connect(yield* createLogin(acme.token))
        const globexClient = yield* connect(yield* createLogin(globex.token))

        const acmeScores = yield* query(acmeClient, "SELECT * FROM warehouse_session_scores ORDER BY scored_at, session_id")
        const globexScores = yield* query(globexClient, "SELECT * FROM warehouse_session_scores")
        const acmeProgress = yield* query(acmeClient, "SELECT * FROM warehouse_skill_progress ORDER BY taken_at")
        const globexProgress = yield* query(globexClient, "SELECT * FROM warehouse_skill_progress")

        expect(acmeScores.error).toBeUndefined()
        expect(acmeScores.rows.map((row) => row.session_id).sort()).toEqual([...acmeSessions].sort())
        expect(globexScores.rows.map((row) => row.session_id)).toEqual(globexSessions)
        expect(new Set(acmeScores.rows.map((row) => row.company_id))).toEqual(new Set([acme.companyId]))
        expect(globexProgress.rows.map((row) => row.company_id)).toEqual([globex.companyId])
        expect(acmeProgress.rows).toHaveLength(3)

        const sql = yield* SqlClient.SqlClient
        const stored = yield* sql<{ session_id: string; overall_score: number; verdict: string; category_scores: Scores }>`
          SELECT session_id, overall_score, verdict, category_scores FROM scorecards WHERE company_id = ${acme.companyId}`
        for (const scorecard of stored) {
          const row = acmeScores.rows.find((candidate) => candidate.session_id === scorecard.session_id)!
          expect(row.overall_score).toBe(scorecard.overall_score)
          expect(row.verdict).toBe(scorecard.verdict)
          expect(row.discovery_score).toBe(scorecard.category_scores.discovery)
          expect(row.objection_handling_score).toBe(scorecard.category_scores.objection_handling)
          expect(row.control_score).toBe(scorecard.category_scores.control)
        }
        expect(Object.keys(acmeProgress.rows[0]!).sort()).toEqual([
          "active_listening_score",
          "closing_score",
          "company_id",
          "control_score",
          "discovery_score",
          "negotiation_score",
          "next_steps_score",
          "objection_handling_score",
          "qualification_score",
          "rapport_score",
          "taken_at",
          "user_id",
          "value_proposition_score"
        ])
      }))

    it.scoped("skill progress averages recent scorecards", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))

        const progress = yield* query(client, "SELECT * FROM warehouse_skill_progress ORDER BY taken_at")

        const [first, second, third] = progress.rows
        expect(first!.discovery_score).toBe(9)
        expect(first!.negotiation_score).toBe(4)
        expect(first!.rapport_score).toBeNull()
        expect(second!.discovery_score).toBe(7)
        expect(second!.negotiation_score).toBe(4)
        expect(third!.discovery_score).toBe(8)
        expect(third!.objection_handling_score).toBe(7)
        expect(third!.rapport_score).toBe(7)
        expect(third!.user_id).toBe(acme.userId)
      }))

    it.scoped("a login cannot reach beyond its views", () =>
      Effect.gen(function*() {
        const { acme, globex } = yield* seedTwoTenants
        const globexLogin = yield* createLogin(globex.token)
        const client = yield* connect(yield* createLogin(acme.token))

        const attempts = [
          "SELECT * FROM scorecards",
          "SELECT * FROM skill_snapshots",
          "SELECT * FROM warehouse_credentials",
          "SELECT * FROM companies",
          "SELECT * FROM api_tokens",
          "SELECT * FROM service_secrets",
          "INSERT INTO warehouse_session_scores (overall_score) VALUES (1)",
          "UPDATE warehouse_session_scores SET overall_score = 0",
          "DELETE FROM warehouse_skill_progress",
          "CREATE TABLE stolen (id int)",
          "CREATE TEMPORARY TABLE stolen (id int)",
          "SELECT lo_create(0)",
          "SELECT lo_from_bytea(0, 'stolen')",
          "SELECT pg_advisory_lock(7421006)",
          "SELECT pg_try_advisory_xact_lock(1)",
          "CREATE VIEW stolen AS SELECT 1",
          "SET ROLE saleslab_warehouse",
          `SET ROLE ${globexLogin.user}`,
          `SET SESSION AUTHORIZATION ${globexLogin.user}`,
          "ALTER VIEW warehouse_session_scores OWNER TO CURRENT_USER"
        ]
        for (const text of attempts) {
          const result = yield* query(client, text)
          expect(result.error, text).toMatch(/permission denied|must be|not allowed|cannot/)
        }

        yield* query(client, "SET app.company_id = 'x'")
        yield* query(client, "SET ROLE saleslab_warehouse_reader")
        const afterSettings = yield* query(client, "SELECT DISTINCT company_id FROM warehouse_session_scores")
        expect(afterSettings.error).toBeUndefined()
        expect(afterSettings.rows.map((row) => row.company_id)).toEqual([acme.companyId])
      }))

    it.scoped("statements stop at the timeout", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))

        const slow = yield* query(client, "SELECT pg_sleep(3)")

        expect(slow.error).toMatch(/statement timeout/)
      }))

    it.scoped("a session cannot lift its timeout", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))
        yield* query(client, "SET statement_timeout = 0")

        const startedAt = Date.now()
        const slow = yield* query(client, "SELECT pg_sleep(8)")

        // The reaper cancels the statement, or ends the session when a busy
        // machine delayed its check past the timeout plus one interval.
        expect(slow.error).toMatch(/canceling statement|terminating connection/)
        expect(Date.now() - startedAt).toBeLessThan(6_000)
      }))

    it.scoped("statement catching its cancel is ended", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))
        yield* query(client, "SET statement_timeout = 0")

        const startedAt = Date.now()
        const stubborn = yield* query(
          client,
          "DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(30); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$"
        )

        expect(stubborn.error).toMatch(/terminat|connection/)
        expect(Date.now() - startedAt).toBeLessThan(8_000)
      }))

    it.scoped("idle transaction session is ended", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))
        yield* query(client, "SET idle_in_transaction_session_timeout = 0")
        yield* query(client, "BEGIN")
        yield* query(client, "SELECT count(*) FROM warehouse_session_scores")

        yield* Effect.sleep(Duration.seconds(5)).pipe(Effect.withClock(Clock.make()))
        const later = yield* query(client, "SELECT 1")

        expect(later.error).toBeDefined()
      }))

    it.scoped("long-lived transaction is ended", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const client = yield* connect(yield* createLogin(acme.token))
        yield* query(client, "BEGIN")
        const startedAt = Date.now()

        // Short statements, each far below the timeout, keep the transaction open until the check ends it.
        let failed: string | undefined
        while (failed === undefined && Date.now() - startedAt < 20_000) {
          failed = (yield* query(client, "SELECT count(*) FROM warehouse_session_scores")).error
          yield* Effect.sleep(Duration.millis(300)).pipe(Effect.withClock(Clock.make()))
        }

        expect(failed).toBeDefined()
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(9_000)
        expect(Date.now() - startedAt).toBeLessThan(15_000)
      }))

    it.scoped("connections are limited per login", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const login = yield* createLogin(acme.token)
        yield* connect(login)
        yield* connect(login)

        const third = yield* Effect.exit(Effect.scoped(connect(login)))

        expect(Exit.isFailure(third)).toBe(true)
      }))

    it.scoped("a revoked login cannot connect", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const login = yield* createLogin(acme.token)
        const open = yield* connect(login)

        const revoked = yield* sendAs(acme.token, "DELETE", `/v1/warehouse/credentials/${login.id}`)
        const reconnect = yield* Effect.exit(Effect.scoped(connect(login)))
        const onOpenSession = yield* query(open, "SELECT count(*) FROM warehouse_session_scores")
        const listed = yield* sendAs(acme.token, "GET", "/v1/warehouse/credentials")

        expect(revoked.status).toBe(204)
        expect(Exit.isFailure(reconnect)).toBe(true)
        expect(onOpenSession.error).toBeDefined()
        const entry = listed.body.data.find((credential: any) => credential.id === login.id)
        expect(entry.revoked_at).not.toBeNull()
      }))

    it.scoped("login owning objects elsewhere is revoked", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const login = yield* createLogin(acme.token)
        // Every role may connect to the server's other databases, where the login can own default privileges.
        const elsewhere = yield* connect({ ...login, database: adminDatabaseName() })
        const owned = yield* query(elsewhere, "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC")
        yield* Effect.addFinalizer(() =>
          withAdminClient((client) =>
            client.query(`DROP OWNED BY ${login.user}`).then(() => client.query(`DROP ROLE IF EXISTS ${login.user}`))
          ).pipe(Effect.ignore)
        )

        const revoked = yield* sendAs(acme.token, "DELETE", `/v1/warehouse/credentials/${login.id}`)
        const reconnect = yield* Effect.exit(Effect.scoped(connect(login)))

        expect(owned.error).toBeUndefined()
        expect(revoked.status).toBe(204)
        expect(Exit.isFailure(reconnect)).toBe(true)
      }))

    it.scoped("logins per company are capped", () =>
      Effect.gen(function*() {
        const { acme } = yield* seedTwoTenants
        const first = yield* createLogin(acme.token)
        yield* createLogin(acme.token)
        yield* createLogin(acme.token)

        const fourth = yield* sendAs(acme.token, "POST", "/v1/warehouse/credentials", {})
        yield* sendAs(acme.token, "DELETE", `/v1/warehouse/credentials/${first.id}`)
        const afterRevoke = yield* sendAs(acme.token, "POST", "/v1/warehouse/credentials", {})

        expect(fourth.status).toBe(409)
        expect(fourth.body.message).toMatch(/already has 3 warehouse logins/)
        expect(afterRevoke.status).toBe(201)
        yield* sendAs(acme.token, "DELETE", `/v1/warehouse/credentials/${afterRevoke.body.id}`)
      }))

    it.scoped("credentials API checks scope and tenant", () =>
      Effect.gen(function*() {
        const { acme, globex } = yield* seedTwoTenants
        const reader = yield* createTenant("Reader", ["read", "write"])
        const login = yield* createLogin(acme.token)

        const forbidden = yield* sendAs(reader.token, "POST", "/v1/warehouse/credentials", {})
        const foreignRevoke = yield* sendAs(globex.token, "DELETE", `/v1/warehouse/credentials/${login.id}`)
        const listed = yield* sendAs(acme.token, "GET", "/v1/warehouse/credentials")
        const foreignList = yield* sendAs(globex.token, "GET", "/v1/warehouse/credentials")
        const badName = yield* sendAs(acme.token, "POST", "/v1/warehouse/credentials", { name: "   " })

        expect(forbidden.status).toBe(403)
        expect(foreignRevoke.status).toBe(404)
        expect(listed.body.data.map((credential: any) => credential.id)).toContain(login.id)
        expect(Object.keys(listed.body.data[0]).sort()).toEqual(["created_at", "id", "name", "revoked_at", "user"])
        expect(foreignList.body.data.map((credential: any) => credential.id)).not.toContain(login.id)
        expect(badName.status).toBe(400)
        expect(login.user).toMatch(/^saleslab_wh_[0-9a-f]{16}$/)
        expect(login.password).toMatch(/^[0-9A-Za-z]{32}$/)
        const config = yield* AppConfig
        expect(login.port).toBeGreaterThan(0)
        expect(config.warehouse.connectionLimit).toBe(2)
      }))
  })
})
