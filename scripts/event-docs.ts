/**
 * Writes `docs/events.md` from the event catalog, and the generated part of
 * the README's event section (the table of kinds and one full delivery)
 * between its two `event-kinds` marker comments.
 *
 *   npm run docs:events
 *
 * Run it after changing `src/events/Catalog.ts` or
 * `src/events/EventKinds.ts`. `test/events/Docs.test.ts` fails while either
 * file is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { eventsDocument, readmeEventBlock } from "../src/events/CatalogMarkdown.ts"

const eventsPath = fileURLToPath(new URL("../docs/events.md", import.meta.url))
const readmePath = fileURLToPath(new URL("../README.md", import.meta.url))
const blockStart = "<!-- event-kinds:start -->"
const blockEnd = "<!-- event-kinds:end -->"

writeFileSync(eventsPath, eventsDocument())
console.log(`Wrote ${eventsPath}`)

const readme = readFileSync(readmePath, "utf8")
const start = readme.indexOf(blockStart)
const end = readme.indexOf(blockEnd)
if (start === -1 || end < start) {
  console.error(`${readmePath} is missing the lines ${blockStart} and ${blockEnd}: add them around the README's event table.`)
  process.exit(1)
}
const block = readmeEventBlock()
writeFileSync(readmePath, `${readme.slice(0, start + blockStart.length)}\n${block}\n${readme.slice(end)}`)
console.log(`Updated the event section of ${readmePath}`)
