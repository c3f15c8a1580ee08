/**
 * Code blocks of the connectors page. Everything that names a view or a
 * column is generated from `WarehouseViews.ts`. Values that the reader fills
 * in are written as `<host>`, `<port>`, `<database>`, `<user>`, `<password>`
 * and a few more, always between angle brackets.
 */
import {
  sessionScoresColumns,
  sessionScoresView,
  sessionSkills,
  skillProgressColumns,
  skillProgressView,
  skills,
  type ViewColumn,
  verdicts,
  warehouseSchema
} from "./WarehouseViews.ts"

// Credentials API

export const createLoginCommand = `curl -s -X POST "<service url>/v1/warehouse/credentials" \\
  -H "authorization: Bearer <admin token>" \\
  -H "content-type: application/json" \\
  -d '{"name":"looker"}'`

export const manageLoginsCommands = `# List the logins: name, created_at and revoked_at, never the password.
curl -s "<service url>/v1/warehouse/credentials" -H "authorization: Bearer <admin token>"

# Revoke one by its id. The response is 204 No Content.
curl -s -X DELETE "<service url>/v1/warehouse/credentials/<credential id>" \\
  -H "authorization: Bearer <admin token>"`

// Drivers and psql

export const jdbcUrl = "jdbc:postgresql://<host>:<port>/<database>?sslmode=require"

export const odbcConnectionString =
  "Driver={PostgreSQL Unicode};Server=<host>;Port=<port>;Database=<database>;Uid=<user>;Pwd=<password>;SSLmode=require;"

export const psqlKeywordCommand =
  `psql "host=<host> port=<port> dbname=<database> user=<user> password=<password> sslmode=require"`

export const psqlUriCommand = `export PGPASSWORD='<password>'
psql "postgresql://<user>@<host>:<port>/<database>?sslmode=require"`

/** Indents every non-empty line of `lines` by `spaces` and joins them with line feeds. */
const indented = (lines: ReadonlyArray<string>, spaces: number) =>
  lines.map((line) => line === "" ? line : `${" ".repeat(spaces)}${line}`).join("\n")

/** Select-list items that round each skill column to one decimal. */
const roundedSkillColumns = skills.map((skill) => `round(${skill.column}::numeric, 1) AS ${skill.category}`)

export const skillTrendQuery = `SELECT DISTINCT ON (week_starting)
       date_trunc('week', taken_at AT TIME ZONE 'UTC')::date AS week_starting,
${indented(roundedSkillColumns, 7).split("\n").join(",\n")}
FROM ${skillProgressView}
WHERE user_id = '<rep user id>'
ORDER BY week_starting, taken_at DESC;`

export const weeklyPassRateQuery = `SELECT date_trunc('week', scored_at AT TIME ZONE 'UTC')::date AS week_starting,
       count(*) AS scorecards,
       count(*) FILTER (WHERE verdict = 'pass') AS passed,
       round(100.0 * count(*) FILTER (WHERE verdict = 'pass') / count(*), 1) AS pass_rate_percent
FROM ${sessionScoresView}
WHERE scored_at >= now() - interval '12 weeks'
GROUP BY week_starting
ORDER BY week_starting;`

// Looker

export const lookerModel = `connection: "saleslab"

include: "/views/*.view.lkml"

explore: ${sessionScoresView} {}

explore: ${skillProgressView} {}`

/** Formats one LookML field with one parameter per line. */
const lookmlField = (kind: string, name: string, parameters: ReadonlyArray<string>) =>
  [`${kind}: ${name} {`, indented(parameters, 2), "}"].join("\n")

const idDimension = (name: string, primaryKey: boolean) =>
  lookmlField("dimension", name, [
    ...(primaryKey ? ["primary_key: yes"] : []),
    ...(name === "company_id" ? ["hidden: yes"] : []),
    "type: string",
    `sql: \${TABLE}.${name} ;;`
  ])

const plainDimension = (name: string, type: "string" | "number") =>
  lookmlField("dimension", name, [`type: ${type}`, `sql: \${TABLE}.${name} ;;`])

const timeDimensionGroup = (column: ViewColumn) =>
  lookmlField("dimension_group", column.name.replace(/_at$/, ""), [
    "type: time",
    "timeframes: [raw, time, date, week, month, quarter, year]",
    `sql: \${TABLE}.${column.name} ;;`
  ])

const averageMeasure = (column: string) =>
  lookmlField("measure", `average_${column}`, ["type: average", `sql: \${${column}} ;;`, "value_format_name: decimal_1"])

/** Formats the LookML view file of `view` with `fields` in order. */
const lookmlView = (view: string, fields: ReadonlyArray<string>) =>
  [`view: ${view} {`, `  sql_table_name: ${warehouseSchema}.${view} ;;`, "", indented(fields.join("\n\n").split("\n"), 2), "}"]
    .join("\n")

/** Formats a dimension for each column: ids as strings, scores as numbers and times as dimension groups. */
const columnDimensions = (columns: ReadonlyArray<ViewColumn>, primaryKey?: string) =>
  columns.map((column) => {
    if (column.type === "uuid") return idDimension(column.name, column.name === primaryKey)
    if (column.type === "timestamptz") return timeDimensionGroup(column)
    if (column.type === "text") return plainDimension(column.name, "string")
    return plainDimension(column.name, "number")
  })

export const lookerSessionScoresView = lookmlView(sessionScoresView, [
  ...columnDimensions(sessionScoresColumns, "session_id"),
  lookmlField("measure", "scorecard_count", ["type: count", "drill_fields: [session_id, user_id, overall_score, verdict, scored_time]"]),
  lookmlField("measure", "pass_count", ["type: count", "filters: [verdict: \"pass\"]"]),
  lookmlField("measure", "pass_rate", [
    "type: number",
    "sql: 1.0 * ${pass_count} / NULLIF(${scorecard_count}, 0) ;;",
    "value_format_name: percent_1"
  ]),
  averageMeasure("overall_score"),
  ...sessionSkills.map((skill) => averageMeasure(skill.column))
])

export const lookerSkillProgressView = lookmlView(skillProgressView, [
  ...columnDimensions(skillProgressColumns),
  lookmlField("measure", "snapshot_count", ["type: count"]),
  ...skills.map((skill) => averageMeasure(skill.column))
])

// Tableau

export const latestSnapshotQuery = `SELECT DISTINCT ON (user_id) *
FROM ${skillProgressView}
ORDER BY user_id, taken_at DESC`

// dbt

export const dbtProfile = `saleslab:
  target: saleslab
  outputs:
    saleslab:
      type: postgres
      host: <host>
      port: <port>
      dbname: <database>
      user: <user>
      password: "{{ env_var('SALESLAB_WAREHOUSE_PASSWORD') }}"
      schema: ${warehouseSchema}
      sslmode: require
      threads: 4`

/** Quotes `text` as a YAML double-quoted scalar. */
const yamlString = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`

/** YAML lines of the data tests on a column, keyed by `<view>.<column>`. */
const columnTests: Readonly<Record<string, ReadonlyArray<string>>> = {
  [`${sessionScoresView}.session_id`]: ["- not_null", "- unique"],
  [`${sessionScoresView}.user_id`]: ["- not_null"],
  [`${sessionScoresView}.overall_score`]: ["- not_null"],
  [`${sessionScoresView}.verdict`]: [
    "- not_null",
    "- accepted_values:",
    `    values: [${verdicts.map((verdict) => `'${verdict}'`).join(", ")}]`
  ],
  [`${sessionScoresView}.scored_at`]: ["- not_null"],
  [`${skillProgressView}.user_id`]: ["- not_null"],
  [`${skillProgressView}.taken_at`]: ["- not_null"]
}

const sourceTable = (view: string, description: string, columns: ReadonlyArray<ViewColumn>) => {
  const columnLines = columns.flatMap((column) => {
    const tests = columnTests[`${view}.${column.name}`]
    return [
      `- name: ${column.name}`,
      `  description: ${yamlString(column.description)}`,
      ...(tests === undefined ? [] : ["  data_tests:", ...tests.map((line) => `    ${line}`)])
    ]
  })
  return [`- name: ${view}`, `  description: ${yamlString(description)}`, "  columns:", indented(columnLines, 4)].join("\n")
}

export const dbtSources = `version: 2

sources:
  - name: saleslab
    description: "Read-only Sales Lab views, limited to your company's rows."
    schema: ${warehouseSchema}
    tables:
${
  indented(
    [
      sourceTable(
        sessionScoresView,
        "One row per scorecard of a practice call.",
        sessionScoresColumns
      ),
      sourceTable(
        skillProgressView,
        "One row per skill snapshot, written after every scorecard.",
        skillProgressColumns
      )
    ].join("\n").split("\n"),
    6
  )
}`

export const dbtStagingModel = `select
    session_id,
    user_id,
    overall_score,
    verdict = 'pass' as passed,
${indented(sessionSkills.map((skill) => `${skill.column},`), 4)}
    scored_at,
    date_trunc('week', scored_at at time zone 'UTC')::date as scored_week
from {{ source('saleslab', '${sessionScoresView}') }}`

// PostgreSQL foreign data wrapper

export const fdwSetup = `CREATE EXTENSION IF NOT EXISTS postgres_fdw;

CREATE SERVER saleslab
  FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '<host>', port '<port>', dbname '<database>', sslmode 'require');

CREATE USER MAPPING FOR CURRENT_USER
  SERVER saleslab
  OPTIONS (user '<user>', password '<password>');

CREATE SCHEMA IF NOT EXISTS saleslab;

IMPORT FOREIGN SCHEMA ${warehouseSchema}
  LIMIT TO (${skillProgressView}, ${sessionScoresView})
  FROM SERVER saleslab
  INTO saleslab;

SELECT count(*) FROM saleslab.${sessionScoresView};`

export const fdwLocalCopy = `CREATE TABLE IF NOT EXISTS saleslab_session_scores
  (LIKE saleslab.${sessionScoresView}, PRIMARY KEY (session_id));

INSERT INTO saleslab_session_scores
SELECT *
FROM saleslab.${sessionScoresView}
WHERE scored_at > (
  SELECT coalesce(max(scored_at), '-infinity') - interval '1 hour'
  FROM saleslab_session_scores
)
ON CONFLICT (session_id) DO NOTHING;`
