import { catalog, exampleBody } from "./Catalog.ts"
import { type EventKind, eventKinds } from "./EventKinds.ts"

/**
 * Markdown views of the event catalog: `docs/events.md`, the event table in
 * the README and the description of the event-kinds group on `/docs`. All
 * of them are rendered from `catalog`, so they change when it does.
 */

/** Escapes the characters that would end a Markdown table cell early. */
const tableCell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

/** The example body of `kind` as indented JSON. */
export const prettyExample = (kind: EventKind): string => JSON.stringify(exampleBody(kind), null, 2)

/** Whether `kind` is a broadcast, and so who receives it. */
const broadcastLine = (kind: EventKind) =>
  catalog[kind].broadcast
    ? "Broadcast: yes. Every tenant with a matching active subscription receives it, each body carrying that tenant's `company_id`."
    : "Broadcast: no. Only the matching active subscriptions of the tenant named in `company_id` receive it."

/**
 * Renders one kind as a Markdown section whose heading has `level` hashes:
 * description, emit point, delivery-id format, whether it is a broadcast
 * and the example body.
 */
export const eventKindSection = (kind: EventKind, level: number): string => {
  const definition = catalog[kind]
  return [
    `${"#".repeat(level)} \`${kind}\``,
    "",
    definition.description,
    "",
    `- Emit point: ${definition.emitPoint}`,
    `- Delivery id: \`${definition.deliveryIdFormat}\``,
    `- ${broadcastLine(kind)}`,
    "",
    "```json",
    prettyExample(kind),
    "```"
  ].join("\n")
}

/**
 * Renders the table of every kind with its emit point and delivery-id
 * format. Each kind links to its section of `docs/events.md` through
 * `linkPrefix`, such as `docs/events.md`.
 */
export const eventKindsTable = (linkPrefix: string): string => {
  const rows = eventKinds.map((kind) => {
    const anchor = kind.replace(/\./g, "")
    const definition = catalog[kind]
    return `| [\`${kind}\`](${linkPrefix}#${anchor}) | ${tableCell(definition.emitPoint)} | \`${
      tableCell(definition.deliveryIdFormat)
    }\` |`
  })
  return ["| Event kind | Emit point | Delivery id |", "|---|---|---|", ...rows].join("\n")
}

/** The kind whose full delivery the README shows. */
const readmeExampleKind: EventKind = "session.scorecard_finalized"

/**
 * Renders the generated part of the README's event section: the table of
 * every kind, linking to `docs/events.md`, and one full delivery.
 */
export const readmeEventBlock = (): string => {
  const kind = readmeExampleKind
  const example = exampleBody(kind) as { readonly delivery_id: string }
  return [
    eventKindsTable("docs/events.md"),
    "",
    `A \`${kind}\` delivery, headers and body:`,
    "",
    "```http",
    "POST /saleslab/webhook HTTP/1.1",
    "content-type: application/json",
    "user-agent: sales-lab-webhooks/1",
    `x-saleslab-event: ${kind}`,
    `x-saleslab-delivery-id: ${example.delivery_id}`,
    "x-saleslab-signature: sha256=<hex HMAC-SHA256 of the body>",
    "",
    prettyExample(kind),
    "```"
  ].join("\n")
}

/** Renders the whole of `docs/events.md`. */
export const eventsDocument = (): string =>
  [
    "# Event kinds",
    "",
    "<!-- Generated from src/events/Catalog.ts by `npm run docs:events`. Edit the catalog, not this file. -->",
    "",
    "Every webhook delivery is a signed `POST` whose JSON body is one of the",
    "shapes below. Each body names its `event_kind` and the receiving tenant's",
    "`company_id`. Where the kind's body has a `delivery_id` field, it is the",
    "same value as the `x-saleslab-delivery-id` header, and it stays the same",
    "across retries. `<subscription_id>` in a delivery-id format is the id of",
    "the receiving subscription. Timestamps are ISO 8601 UTC with milliseconds.",
    "`GET /v1/event-kinds` returns the same catalog with the JSON Schema of",
    "each body.",
    "",
    eventKindsTable(""),
    "",
    ...eventKinds.flatMap((kind) => [eventKindSection(kind, 2), ""])
  ].join("\n")

/** Renders the description of the event-kinds group on `/docs`: every kind with its example body. */
export const eventKindsApiDescription = (): string =>
  [
    "The event catalog. A webhook subscription receives the kinds in its",
    "`event_kinds` filter, or every kind when the filter is empty.",
    "",
    ...eventKinds.flatMap((kind) => [eventKindSection(kind, 3), ""])
  ].join("\n").trimEnd()
