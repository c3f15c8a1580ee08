/**
 * Writes `docs/connectors.md` from the connectors page.
 *
 *   npm run docs:connectors
 *
 * Run it after changing a file under `src/warehouse/`.
 * `test/warehouse/ConnectorsDocs.test.ts` fails while the file is out of date.
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { connectorsMarkdown } from "../src/warehouse/Connectors.ts"

const connectorsPath = fileURLToPath(new URL("../docs/connectors.md", import.meta.url))

writeFileSync(connectorsPath, connectorsMarkdown())
console.log(`Wrote ${connectorsPath}`)
