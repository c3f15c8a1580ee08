/**
 * Warehouse connectors page, which explains how to get a read-only PostgreSQL
 * login and connect psql, Looker, Tableau, dbt and other databases to the two
 * views. The service serves it as HTML at `GET /connectors`, and
 * `npm run docs:connectors` writes the Markdown to `docs/connectors.md`.
 */
import * as Recipes from "./ConnectorRecipes.ts"
import { bullets, code, type Page, paragraph, renderHtml, renderMarkdown, type Section, steps, subheading, table } from "./PageFormat.ts"
import {
  defaultConnectionLimit,
  defaultStatementTimeoutSeconds,
  sessionScoresColumns,
  sessionScoresView,
  skillProgressColumns,
  skillProgressView,
  skills,
  standardSkills,
  type ViewColumn,
  warehouseSchema
} from "./WarehouseViews.ts"

export * from "./WarehouseViews.ts"

const fillIn = "Replace `<host>`, `<port>`, `<database>`, `<user>` and `<password>` with the fields of the login."

const sslNote = "In production, where the database server offers TLS, use `sslmode=require` so that the " +
  "connection cannot fall back to plain text. The embedded database of a development machine has no TLS, so " +
  "use `sslmode=disable` there."

const columnRows = (columns: ReadonlyArray<ViewColumn>) =>
  columns.map((column) => [`\`${column.name}\``, `\`${column.type}\``, column.description])

/** Joins the lower-cased skill labels as an English list, such as "a, b and c". */
const joinSkillLabels = (selected: ReadonlyArray<{ readonly label: string }>) => {
  const names = selected.map((skill) => skill.label.toLowerCase())
  if (names.length <= 1) return names.join("")
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`
}

const loginSection: Section = {
  title: "Get a login",
  blocks: [
    paragraph(
      "A token with the admin scope creates a login with `POST /v1/warehouse/credentials`. The optional `name` " +
        "labels it, which helps when each tool gets a login of its own."
    ),
    code("sh", Recipes.createLoginCommand),
    paragraph(
      "The response is 201 with the fields below. The password is shown only in this response, so put it in " +
        "your tool's secret store right away."
    ),
    table(["Field", "Use"], [
      ["`id`", "Id of the login, used to revoke it."],
      ["`host`", "Host name of the database server."],
      ["`port`", "Port of the database server."],
      ["`database`", "Database name."],
      ["`user`", "User name of the login."],
      ["`password`", "Password of the login, shown once."],
      ["`created_at`", "When the login was created."]
    ]),
    paragraph(
      "The login is a plain PostgreSQL login, so any PostgreSQL client, JDBC driver or ODBC driver works with it. " +
        "It connects with TLS when the database server offers it. " + sslNote
    ),
    subheading("JDBC and ODBC"),
    paragraph("JDBC URL, with `<user>` and `<password>` as the driver's user and password properties:"),
    code("text", Recipes.jdbcUrl),
    paragraph(
      "ODBC connection string for the psqlODBC driver. Use the driver name that your ODBC manager lists, such " +
        "as `PostgreSQL Unicode`:"
    ),
    code("text", Recipes.odbcConnectionString)
  ]
}

const viewsSection: Section = {
  title: "The views",
  blocks: [
    paragraph(
      `Both views are in the \`${warehouseSchema}\` schema. \`${skillProgressView}\` has one row per skill snapshot. ` +
        "A snapshot is written after every scorecard, and each skill in it is the mean of that skill's score over " +
        "the rep's last five scorecards that scored it, from 0 to 10. A skill is null until a scorecard scored it."
    ),
    paragraph(
      `\`${sessionScoresView}\` has one row per scorecard, that is per practice call that was scored. Join the ` +
        "two views on `user_id`. The views contain no names: `GET /v1/users` returns each user's `id` and `name`."
    ),
    subheading("Skills"),
    table(
      ["Skill", "Column", "What it measures"],
      skills.map((skill) => [skill.label, `\`${skill.column}\``, skill.measures])
    ),
    paragraph(
      `Every scorecard tries to score ${joinSkillLabels(standardSkills)}. The other skills are scored only when the ` +
        "analysis of a call includes them, so their columns can stay null for a long time."
    ),
    subheading(`\`${skillProgressView}\``),
    table(["Column", "Type", "Meaning"], columnRows(skillProgressColumns)),
    subheading(`\`${sessionScoresView}\``),
    table(["Column", "Type", "Meaning"], columnRows(sessionScoresColumns))
  ]
}

const psqlSection: Section = {
  title: "psql",
  blocks: [
    paragraph(`${fillIn} ${sslNote}`),
    code("sh", Recipes.psqlKeywordCommand),
    paragraph(
      "A connection URI works too. Keeping the password in `PGPASSWORD` keeps it out of the URI, where special " +
        "characters would need percent-encoding:"
    ),
    code("sh", Recipes.psqlUriCommand),
    subheading("A rep's skill trend"),
    paragraph(
      "The last snapshot of each week for one rep, with weeks starting on Monday in UTC. Replace " +
        "`<rep user id>` with the rep's `user_id`."
    ),
    code("sql", Recipes.skillTrendQuery),
    subheading("Pass rate per week"),
    paragraph("Scorecards, passes and the pass rate of the last twelve weeks, with weeks starting on Monday in UTC:"),
    code("sql", Recipes.weeklyPassRateQuery)
  ]
}

const lookerSection: Section = {
  title: "Looker",
  blocks: [
    paragraph("Add a database connection under Admin, Database, Connections:"),
    bullets(
      "Name: `saleslab`, the name the model file below uses.",
      "Dialect: PostgreSQL 9.5+.",
      "Host, Port, Database, Username and Password: `<host>`, `<port>`, `<database>`, `<user>` and `<password>` " +
        "of the login.",
      `Schema: \`${warehouseSchema}\`.`,
      "SSL: on in production, where the database server offers TLS. A development machine's embedded database " +
        "has no TLS.",
      "Persistent derived tables: leave them off, because the login cannot create tables.",
      `Max connections per node: at most ${defaultConnectionLimit}, the login's connection limit, shared among ` +
        "the Looker nodes if there are several."
    ),
    paragraph(
      "Test the connection, then add a model file and one view file per view to a LookML project. The model " +
        "file, such as `saleslab.model.lkml`:"
    ),
    code("lookml", Recipes.lookerModel),
    paragraph(`\`views/${sessionScoresView}.view.lkml\`:`),
    code("lookml", Recipes.lookerSessionScoresView),
    paragraph(`\`views/${skillProgressView}.view.lkml\`:`),
    code("lookml", Recipes.lookerSkillProgressView),
    paragraph(
      "A rep who practises often has more snapshots than one who does not, so averages over many days weigh " +
        "them more. To compare reps' current skills, filter `taken_date` to a short period."
    )
  ]
}

const tableauSection: Section = {
  title: "Tableau",
  blocks: [
    steps(
      "Under Connect, To a Server, choose PostgreSQL. Install the driver if Tableau asks for it.",
      "Server: `<host>`. Port: `<port>`. Database: `<database>`. Authentication: Username and Password, with " +
        "`<user>` and `<password>`.",
      "Tick Require SSL in production, where the database server offers TLS.",
      `Sign in, choose the \`${warehouseSchema}\` schema and drag \`${sessionScoresView}\` or ` +
        `\`${skillProgressView}\` to the canvas. To use both, relate them on \`user_id\`.`
    ),
    paragraph(
      "For each rep's current skills, use New Custom SQL with the query below. It keeps the latest snapshot of " +
        "each rep. Leave out a trailing semicolon, because Tableau runs custom SQL as a subquery."
    ),
    code("sql", Recipes.latestSnapshotQuery),
    paragraph(
      "Initial SQL is not needed. The login already sees only your company's rows, and its limits are set on " +
        `the database side. Extract refreshes are queries like any other, so each must finish within the ` +
        `${defaultStatementTimeoutSeconds}-second statement timeout.`
    )
  ]
}

const dbtSection: Section = {
  title: "dbt",
  blocks: [
    paragraph(
      "The login can only read, so a dbt project can use the views as sources and run tests on them, but " +
        "cannot build models in the Sales Lab database. To build models, point the profile at a PostgreSQL " +
        "database of your own that imports the views with `postgres_fdw` (see the next section), and set the " +
        "source's `schema` to the schema they were imported into."
    ),
    paragraph(
      `\`~/.dbt/profiles.yml\`, for the dbt-postgres adapter. ${fillIn} Set \`SALESLAB_WAREHOUSE_PASSWORD\` in the ` +
        `environment, and keep \`threads\` below the connection limit of ${defaultConnectionLimit}. ` +
        "`dbt_project.yml` names the profile with `profile: saleslab`."
    ),
    code("yaml", Recipes.dbtProfile),
    paragraph("`models/staging/saleslab/sources.yml`, with data tests (dbt 1.8 or later):"),
    code("yaml", Recipes.dbtSources),
    paragraph(
      "`dbt test --select source:saleslab` runs the tests with the login alone. A staging model, such as " +
        "`models/staging/saleslab/stg_saleslab__session_scores.sql`:"
    ),
    code("sql", Recipes.dbtStagingModel)
  ]
}

const fdwSection: Section = {
  title: "PostgreSQL foreign data wrapper (for Snowflake and other warehouses)",
  blocks: [
    paragraph(
      "A PostgreSQL database of your own can show the two views as foreign tables with `postgres_fdw`, which " +
        "ships with PostgreSQL. Queries on them run on the Sales Lab database as the login, so its row-level " +
        "security and limits apply. This makes your database a staging hop for tools that read only from it, " +
        "and a place to build dbt models."
    ),
    paragraph(
      `${fillIn} Run the statements as the role that will query the foreign tables. A role that is not a ` +
        "superuser needs the password in its user mapping, as shown. Every session that reads a foreign table " +
        `holds one connection of the login until it ends, so at most ${defaultConnectionLimit} sessions can read ` +
        "at once."
    ),
    code("sql", Recipes.fdwSetup),
    paragraph(
      "A local copy that a scheduled job tops up needs a short query on each run. This one copies the scorecards " +
        "of the last hour again and skips those it already has, so a scorecard committed a little late is not " +
        "missed:"
    ),
    code("sql", Recipes.fdwLocalCopy),
    subheading("Snowflake"),
    paragraph(
      "Snowflake cannot attach a PostgreSQL database or query its tables in place. Two routes work:"
    ),
    bullets(
      "Replicate with a data integration tool that reads PostgreSQL and loads Snowflake. Choose its query-based " +
        "incremental mode with `scored_at` and `taken_at` as cursor columns. Log-based change data capture does " +
        "not work, because it needs replication privileges and reads tables, not views.",
      "Pull from Snowflake itself. An external access integration lets a Python stored procedure reach " +
        "`<host>:<port>`, with a network rule for that address and a secret that holds the login. The procedure " +
        "reads the views with a PostgreSQL client library and writes the rows into a Snowflake table. Check that " +
        "your account offers external network access and a PostgreSQL client package for procedures."
    ),
    paragraph(
      "When a PostgreSQL database of yours already feeds Snowflake, the foreign tables above are the simplest " +
        "way in."
    )
  ]
}

const limitsSection: Section = {
  title: "Row-level security and limits",
  blocks: [
    bullets(
      `The login can run \`SELECT\` on \`${skillProgressView}\` and \`${sessionScoresView}\` and nothing else. ` +
        "It cannot change data or read other tables.",
      "Row-level security shows it only your company's rows. `company_id` has the same value on every row, so " +
        "queries need no company filter.",
      `It may hold ${defaultConnectionLimit} connections at once by default. PostgreSQL rejects one more with ` +
        "`too many connections for role`. Keep connection pools below the limit, and give each tool its own login.",
      `A statement may run for ${defaultStatementTimeoutSeconds} seconds by default. PostgreSQL cancels a longer ` +
        "one with `canceling statement due to statement timeout`. Filter on `scored_at` or `taken_at` and load " +
        "new rows instead of reading the whole history each time.",
      "`DELETE /v1/warehouse/credentials/<id>` revokes a login, and the login stops working at once. To rotate " +
        "a password, create a new login, switch the tool to it, then revoke the old one."
    ),
    code("sh", Recipes.manageLoginsCommands)
  ]
}

/** Complete connectors page. */
export const connectorsPage: Page = {
  title: "Warehouse connectors",
  intro: [
    paragraph(
      "Sales Lab publishes your company's practice results as two read-only PostgreSQL views: " +
        `\`${skillProgressView}\` and \`${sessionScoresView}\`. This page shows how to get a login for them and ` +
        "how to connect psql, Looker, Tableau, dbt and other databases."
    )
  ],
  sections: [loginSection, viewsSection, psqlSection, lookerSection, tableauSection, dbtSection, fdwSection, limitsSection]
}

/** Renders the page as the self-contained HTML that `GET /connectors` serves. */
export const connectorsHtml = (): string => renderHtml(connectorsPage)

/** Renders the page as the Markdown of `docs/connectors.md`. */
export const connectorsMarkdown = (): string =>
  renderMarkdown(connectorsPage, [
    "<!-- Generated from src/warehouse/Connectors.ts by `npm run docs:connectors`. Edit the module, not this file. -->",
    "The running service serves this page at `GET /connectors`."
  ])
