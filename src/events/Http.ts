import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { SalesLabApi } from "../Api.ts"
import { bodyJsonSchema, catalog, exampleBody } from "./Catalog.ts"
import { eventKinds } from "./EventKinds.ts"

/** The catalog entries, built once: they never change while the process runs. */
const entries = eventKinds.map((kind) => ({
  kind,
  description: catalog[kind].description,
  emit_point: catalog[kind].emitPoint,
  delivery_id_format: catalog[kind].deliveryIdFormat,
  broadcast: catalog[kind].broadcast,
  schema: bodyJsonSchema(kind),
  example: exampleBody(kind)
}))

/** Handler of `GET /v1/event-kinds`. */
export const EventKindsHttpLive = HttpApiBuilder.group(SalesLabApi, "eventKinds", (handlers) =>
  handlers.handle("list", () => Effect.succeed({ data: entries, next_cursor: null })))
