import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  connectorsHtml,
  connectorsMarkdown,
  sessionScoresColumnNames,
  skillColumns,
  skillProgressColumnNames,
  warehouseViews
} from "../../src/warehouse/Connectors.ts"

const readProjectFile = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8")

const regenerate = "Run `npm run docs:connectors` and commit the result."

describe("Connectors docs", () => {
  it("docs/connectors.md matches the page", () => {
    expect(readProjectFile("docs/connectors.md"), regenerate).toBe(connectorsMarkdown())
  })

  it("column lists match the views", () => {
    expect(warehouseViews).toEqual(["warehouse_skill_progress", "warehouse_session_scores"])
    expect(skillColumns).toEqual([
      "discovery_score",
      "objection_handling_score",
      "control_score",
      "rapport_score",
      "closing_score",
      "value_proposition_score",
      "qualification_score",
      "negotiation_score",
      "active_listening_score",
      "next_steps_score"
    ])
    expect(skillProgressColumnNames).toEqual(["user_id", "company_id", ...skillColumns, "taken_at"])
    expect(sessionScoresColumnNames).toEqual([
      "session_id",
      "user_id",
      "company_id",
      "overall_score",
      "verdict",
      "discovery_score",
      "objection_handling_score",
      "control_score",
      "scored_at"
    ])
  })

  it("both formats name every column", () => {
    const markdown = connectorsMarkdown()
    const html = connectorsHtml()
    for (const name of [...warehouseViews, ...skillProgressColumnNames, ...sessionScoresColumnNames]) {
      expect(markdown, name).toContain(`\`${name}\``)
      expect(html, name).toContain(`<code>${name}</code>`)
    }
  })

  it("page has every recipe section", () => {
    const markdown = connectorsMarkdown()
    for (
      const heading of [
        "## psql",
        "## Looker",
        "## Tableau",
        "## dbt",
        "## PostgreSQL foreign data wrapper (for Snowflake and other warehouses)",
        "### Snowflake",
        "## Row-level security and limits"
      ]
    ) {
      expect(markdown.split("\n"), heading).toContain(heading)
    }
  })

  it("readme links the page", () => {
    const readme = readProjectFile("README.md")

    expect(readme).toContain("(docs/connectors.md)")
    expect(readme).toContain("`GET /connectors`")
  })
})
