import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { SalesLabApi } from "../../src/Api.ts"
import { catalog } from "../../src/events/Catalog.ts"
import { eventsDocument, prettyExample, readmeEventBlock } from "../../src/events/CatalogMarkdown.ts"
import { eventKinds } from "../../src/events/EventKinds.ts"

const readProjectFile = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8")

const regenerate = "Run `npm run docs:events` and commit the result."

describe("Event docs", () => {
  it("docs/events.md matches the catalog", () => {
    expect(readProjectFile("docs/events.md"), regenerate).toBe(eventsDocument())
  })

  it("readme event block matches the catalog", () => {
    const readme = readProjectFile("README.md")
    const start = readme.indexOf("<!-- event-kinds:start -->\n")
    const end = readme.indexOf("<!-- event-kinds:end -->")
    expect(start).toBeGreaterThan(-1)
    expect(end).toBeGreaterThan(start)
    const block = readme.slice(start + "<!-- event-kinds:start -->\n".length, end)
    expect(block, regenerate).toBe(`${readmeEventBlock()}\n`)
  })

  it("readme table lists every kind", () => {
    const readme = readProjectFile("README.md")
    for (const kind of eventKinds) {
      const row = readme.split("\n").find((line) => line.startsWith(`| [\`${kind}\`](docs/events.md#`))
      expect(row, kind).toBeDefined()
      expect(row).toContain(catalog[kind].emitPoint)
      expect(row).toContain(`\`${catalog[kind].deliveryIdFormat}\``)
    }
  })

  it("docs/events.md describes every kind", () => {
    const document = readProjectFile("docs/events.md")
    for (const kind of eventKinds) {
      const section = document.split("\n## ").find((part) => part.startsWith(`\`${kind}\``))
      expect(section, kind).toBeDefined()
      expect(section).toContain(catalog[kind].description)
      expect(section).toContain(`Emit point: ${catalog[kind].emitPoint}`)
      expect(section).toContain(`Delivery id: \`${catalog[kind].deliveryIdFormat}\``)
      expect(section).toContain(catalog[kind].broadcast ? "Broadcast: yes." : "Broadcast: no.")
      expect(section).toContain(`\`\`\`json\n${prettyExample(kind)}\n\`\`\``)
    }
  })

  it("broadcast kinds are the two operator publishes", () => {
    const broadcasts = eventKinds.filter((kind) => catalog[kind].broadcast)
    expect(broadcasts).toEqual(["churn_retro.published", "wage_index.published"])
  })

  it("openapi event-kinds tag shows every example", () => {
    const spec = OpenApi.fromApi(SalesLabApi)
    const tag = spec.tags.find((entry) => entry.name === "eventKinds")
    expect(tag).toBeDefined()
    for (const kind of eventKinds) {
      expect(tag?.description).toContain(`### \`${kind}\``)
      expect(tag?.description).toContain(prettyExample(kind))
    }
  })
})
