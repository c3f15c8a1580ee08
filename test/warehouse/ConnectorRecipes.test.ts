import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync } from "node:fs"
import { promisify } from "node:util"
import pg from "pg"
import { parse as parseYaml } from "yaml"
import * as Recipes from "../../src/warehouse/ConnectorRecipes.ts"
import {
  connectorsPage,
  sessionScoresColumnNames,
  sessionScoresColumns,
  sessionScoresView,
  skillProgressColumnNames,
  skillProgressColumns,
  skillProgressView,
  type ViewColumn,
  verdicts
} from "../../src/warehouse/Connectors.ts"
import { databaseUrl, freshDatabase } from "../support/TestDatabase.ts"

// The recipes run against stand-in tables that have the views' names and
// columns, in a database of their own, read through a login that may only
// SELECT them. The login's password lets postgres_fdw connect back to the
// same server as that login.

/** The database and login that the recipes run against. */
class Warehouse extends Context.Tag("test/Warehouse")<Warehouse, {
  /** URL of the database as the superuser that created it. */
  readonly url: string
  /** URL of the database as the login. */
  readonly loginUrl: string
  readonly values: Readonly<Record<string, string>>
}>() {}

/** Runs `run` with a client of `url` that returns `date` values as `YYYY-MM-DD` text. */
const withClient = <A>(url: string, run: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({
      connectionString: url,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === pg.types.builtins.DATE ? (value: string) => value : pg.types.getTypeParser(oid, format)) as never
      }
    })
    await client.connect()
    try {
      return await run(client)
    } finally {
      await client.end()
    }
  })

/** Returns Monday 00:00 UTC of the week `weeksAgo` weeks before this one. */
const mondayUtc = (weeksAgo: number) => {
  const now = new Date()
  const daysSinceMonday = (now.getUTCDay() + 6) % 7
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysSinceMonday - 7 * weeksAgo))
}

/** Returns the ISO time `days` days and `hours` hours after that Monday. */
const timeOf = (weeksAgo: number, days: number, hours: number) =>
  new Date(mondayUtc(weeksAgo).getTime() + (days * 24 + hours) * 3_600_000).toISOString()

const dateOf = (weeksAgo: number) => mondayUtc(weeksAgo).toISOString().slice(0, 10)

const repA = randomUUID()
const repB = randomUUID()
const company = randomUUID()

/** Scorecards: two weeks ago one pass of two, last week two passes of three, and one too old for the twelve weeks. */
const sessionRows = [
  { user: repA, score: 80, verdict: "pass", discovery: 8, scoredAt: timeOf(2, 0, 10) },
  { user: repA, score: 40, verdict: "fail", discovery: null, scoredAt: timeOf(2, 1, 10) },
  { user: repA, score: 75, verdict: "pass", discovery: 7, scoredAt: timeOf(1, 2, 10) },
  { user: repB, score: 90, verdict: "pass", discovery: 9, scoredAt: timeOf(1, 3, 10) },
  { user: repB, score: 30, verdict: "fail", discovery: 2, scoredAt: timeOf(1, 4, 10) },
  { user: repB, score: 95, verdict: "pass", discovery: 10, scoredAt: timeOf(20, 0, 10) }
]

/** Skill snapshots: two of rep A two weeks ago, one of rep A last week, one of rep B. */
const snapshotRows = [
  { user: repA, discovery: 5, closing: null, takenAt: timeOf(2, 0, 10) },
  { user: repA, discovery: 6, closing: 4.5, takenAt: timeOf(2, 1, 10) },
  { user: repA, discovery: 7.24, closing: 5, takenAt: timeOf(1, 2, 10) },
  { user: repB, discovery: 9, closing: 8, takenAt: timeOf(1, 3, 10) }
]

const columnDefinitions = (columns: ReadonlyArray<ViewColumn>) =>
  columns.map((column) => `${column.name} ${column.type}`).join(", ")

const seedStatements = (login: string, password: string) => [
  `CREATE TABLE ${skillProgressView} (${columnDefinitions(skillProgressColumns)})`,
  `CREATE TABLE ${sessionScoresView} (${columnDefinitions(sessionScoresColumns)})`,
  ...sessionRows.map((row) =>
    `INSERT INTO ${sessionScoresView} (session_id, user_id, company_id, overall_score, verdict, discovery_score, scored_at) ` +
    `VALUES ('${randomUUID()}', '${row.user}', '${company}', ${row.score}, '${row.verdict}', ${row.discovery}, '${row.scoredAt}')`
  ),
  ...snapshotRows.map((row) =>
    `INSERT INTO ${skillProgressView} (user_id, company_id, discovery_score, closing_score, taken_at) ` +
    `VALUES ('${row.user}', '${company}', ${row.discovery}, ${row.closing}, '${row.takenAt}')`
  ),
  `CREATE ROLE ${login} LOGIN PASSWORD '${password}' CONNECTION LIMIT 5`,
  `GRANT SELECT ON ${skillProgressView}, ${sessionScoresView} TO ${login}`
]

const WarehouseLive = Layer.scoped(
  Warehouse,
  Effect.gen(function*() {
    const login = `warehouse_login_${randomUUID().replaceAll("-", "")}`
    const password = randomUUID()
    // The role is dropped after the database, which still has grants to it.
    yield* Effect.addFinalizer(() => withClient(databaseUrl("postgres"), (client) => client.query(`DROP ROLE IF EXISTS ${login}`)))
    const database = yield* freshDatabase
    const url = databaseUrl(database)
    yield* withClient(url, async (client) => {
      for (const statement of seedStatements(login, password)) await client.query(statement)
    })
    const server = new URL(url)
    const loginUrl = new URL(url)
    loginUrl.username = login
    loginUrl.password = password
    return {
      url,
      loginUrl: loginUrl.toString(),
      values: {
        host: server.hostname,
        port: server.port === "" ? "5432" : server.port,
        database,
        user: login,
        password,
        "rep user id": repA
      }
    }
  })
)

/**
 * Replaces every `<placeholder>` of a recipe with its test value, and
 * `sslmode` require with disable, because the test server has no TLS.
 */
const fillIn = (text: string, values: Readonly<Record<string, string>>) =>
  text
    .replace(/<([a-z ]+)>/g, (placeholder, name: string) => {
      const value = values[name]
      if (value === undefined) throw new Error(`Missing test value for the placeholder ${placeholder}: add it to the values of WarehouseLive.`)
      return value
    })
    .replace(/sslmode 'require'/g, "sslmode 'disable'")
    .replace(/sslmode=require/g, "sslmode=disable")

/**
 * Runs a recipe, filled in, in the warehouse database and returns the rows
 * of its last statement. It runs as the login unless `asSuperuser` is set.
 */
const runRecipe = (sql: string, asSuperuser = false) =>
  Effect.flatMap(Warehouse, (warehouse) =>
    withClient(asSuperuser ? warehouse.url : warehouse.loginUrl, async (client) => {
      const result = await client.query(fillIn(sql, warehouse.values)) as unknown as pg.QueryResult | Array<pg.QueryResult>
      return (Array.isArray(result) ? result.at(-1)! : result).rows as Array<Record<string, unknown>>
    }))

/** Returns the code blocks of the page in `language`, in page order. */
const blocksIn = (language: string) =>
  connectorsPage.sections.flatMap((section) =>
    section.blocks.flatMap((block) => block._tag === "Code" && block.language === language ? [block.code] : [])
  )

/**
 * Returns the `sql:` expressions of a LookML view file that refer to columns
 * only, with the view's name in place of `${TABLE}`.
 */
const lookmlColumnExpressions = (view: string, lookml: string) =>
  [...lookml.matchAll(/sql: (.*) ;;/g)]
    .map((match) => match[1]!.replaceAll("${TABLE}", view))
    .filter((expression) => !expression.includes("${"))

const execFileAsync = promisify(execFile)
const psqlPath = ["/usr/bin/psql", "/usr/local/bin/psql"].find((path) => existsSync(path))

layer(WarehouseLive, { timeout: "60 seconds" })("Connector recipes", (it) => {
  it.effect("every SQL block covered", () =>
    Effect.sync(() => {
      expect(blocksIn("sql"), "Add a test below for each new SQL block of the page.").toEqual([
        Recipes.skillTrendQuery,
        Recipes.weeklyPassRateQuery,
        Recipes.latestSnapshotQuery,
        Recipes.dbtStagingModel,
        Recipes.fdwSetup,
        Recipes.fdwLocalCopy
      ])
    }))

  it.effect("skill trend keeps each week's last snapshot", () =>
    Effect.gen(function*() {
      const rows = yield* runRecipe(Recipes.skillTrendQuery)

      expect(rows.map((row) => row.week_starting)).toEqual([dateOf(2), dateOf(1)])
      expect(rows.map((row) => row.discovery)).toEqual(["6.0", "7.2"])
      expect(rows.map((row) => row.closing)).toEqual(["4.5", "5.0"])
      expect(rows[0]!.rapport).toBeNull()
    }))

  it.effect("weekly pass rate counts twelve weeks", () =>
    Effect.gen(function*() {
      const rows = yield* runRecipe(Recipes.weeklyPassRateQuery)

      expect(rows).toEqual([
        { week_starting: dateOf(2), scorecards: "2", passed: "1", pass_rate_percent: "50.0" },
        { week_starting: dateOf(1), scorecards: "3", passed: "2", pass_rate_percent: "66.7" }
      ])
    }))

  it.effect("latest snapshot query keeps one per rep", () =>
    Effect.gen(function*() {
      const rows = yield* runRecipe(`SELECT user_id, discovery_score FROM (${Recipes.latestSnapshotQuery}) AS custom_sql`)

      expect(rows).toHaveLength(2)
      expect(rows.find((row) => row.user_id === repA)?.discovery_score).toBe(7.24)
      expect(rows.find((row) => row.user_id === repB)?.discovery_score).toBe(9)
    }))

  it.effect("dbt staging model runs", () =>
    Effect.gen(function*() {
      const model = Recipes.dbtStagingModel.replace(
        `{{ source('saleslab', '${sessionScoresView}') }}`,
        sessionScoresView
      )
      expect(model).not.toContain("{{")

      const rows = yield* runRecipe(model)

      expect(rows).toHaveLength(sessionRows.length)
      for (const row of rows) {
        expect(row.passed).toBe(sessionRows.find((seed) => seed.scoredAt === (row.scored_at as Date).toISOString())?.verdict === "pass")
      }
    }))

  it.effect("postgres_fdw imports both views", () =>
    Effect.gen(function*() {
      const rows = yield* runRecipe(Recipes.fdwSetup, true)
      expect(rows).toEqual([{ count: String(sessionRows.length) }])

      const foreignTables = yield* runRecipe(
        "SELECT foreign_table_name FROM information_schema.foreign_tables WHERE foreign_table_schema = 'saleslab' ORDER BY 1",
        true
      )
      expect(foreignTables.map((row) => row.foreign_table_name)).toEqual([sessionScoresView, skillProgressView])

      const remoteUser = yield* runRecipe(
        "SELECT option_value FROM pg_options_to_table((SELECT umoptions FROM pg_user_mappings WHERE srvname = 'saleslab')) " +
          "WHERE option_name = 'user'",
        true
      )
      expect(remoteUser.map((row) => row.option_value)).toEqual([(yield* Warehouse).values.user])
    }))

  it.effect("local copy adds each scorecard once", () =>
    Effect.gen(function*() {
      // The postgres_fdw test above imports the foreign tables, unless this test runs alone.
      const imported = yield* runRecipe("SELECT 1 FROM pg_namespace WHERE nspname = 'saleslab'", true)
      if (imported.length === 0) yield* runRecipe(Recipes.fdwSetup, true)

      yield* runRecipe(Recipes.fdwLocalCopy, true)
      yield* runRecipe(Recipes.fdwLocalCopy, true)

      const rows = yield* runRecipe(
        "SELECT count(*) AS copied, count(DISTINCT session_id) AS sessions FROM saleslab_session_scores",
        true
      )
      expect(rows).toEqual([{ copied: String(sessionRows.length), sessions: String(sessionRows.length) }])
    }))

  it.effect("lookml sql refers to real columns", () =>
    Effect.gen(function*() {
      const views = [
        { view: sessionScoresView, lookml: Recipes.lookerSessionScoresView, columns: sessionScoresColumnNames },
        { view: skillProgressView, lookml: Recipes.lookerSkillProgressView, columns: skillProgressColumnNames }
      ]
      for (const { columns, lookml, view } of views) {
        const expressions = lookmlColumnExpressions(view, lookml)
        expect(expressions, view).toHaveLength(columns.length)
        for (const expression of expressions) {
          yield* runRecipe(`SELECT ${expression} FROM ${view} LIMIT 1`)
        }
        expect(lookml).toContain(`sql_table_name: public.${view} ;;`)
      }
    }))

  it.effect("dbt sources declare every column", () =>
    Effect.sync(() => {
      const [profile, sources] = blocksIn("yaml").map((text) => parseYaml(text))
      expect(profile.saleslab.outputs.saleslab.type).toBe("postgres")
      expect(profile.saleslab.outputs.saleslab.threads).toBeLessThanOrEqual(5)

      const tables = sources.sources[0].tables as Array<{ name: string; columns: Array<{ name: string; data_tests?: Array<unknown> }> }>
      expect(tables.map((table) => table.name)).toEqual([sessionScoresView, skillProgressView])
      expect(tables[0]!.columns.map((column) => column.name)).toEqual(sessionScoresColumnNames)
      expect(tables[1]!.columns.map((column) => column.name)).toEqual(skillProgressColumnNames)

      const verdict = tables[0]!.columns.find((column) => column.name === "verdict")
      expect(verdict?.data_tests).toEqual(["not_null", { accepted_values: { values: [...verdicts] } }])
    }))

  it.effect.skipIf(psqlPath === undefined)("psql commands connect", () =>
    Effect.gen(function*() {
      const { values } = yield* Warehouse
      const keywordConninfo = fillIn(Recipes.psqlKeywordCommand, values).match(/^psql "(.*)"$/)?.[1]
      const uri = fillIn(Recipes.psqlUriCommand, values).match(/psql "(.*)"$/)?.[1]
      expect(keywordConninfo).toBeDefined()
      expect(uri).toBeDefined()
      expect(Recipes.psqlUriCommand).toContain("export PGPASSWORD='<password>'")

      const query = `SELECT count(*) FROM ${sessionScoresView}`
      const byKeywords = yield* Effect.promise(() => execFileAsync(psqlPath!, [keywordConninfo!, "-Atc", query]))
      const byUri = yield* Effect.promise(() =>
        execFileAsync(psqlPath!, [uri!, "-Atc", query], { env: { ...process.env, PGPASSWORD: values.password } })
      )

      expect(byKeywords.stdout.trim()).toBe(String(sessionRows.length))
      expect(byUri.stdout.trim()).toBe(String(sessionRows.length))
    }))
})
