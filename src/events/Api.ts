import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { JsonValue } from "../Json.ts"
import { Authentication } from "../tenancy/Security.ts"
import { eventKindsApiDescription } from "./CatalogMarkdown.ts"
import { EventKind } from "./EventKinds.ts"

/** One entry of the event catalog as served by `GET /v1/event-kinds`. */
export const EventKindInfo = Schema.Struct({
  kind: EventKind,
  description: Schema.String,
  emit_point: Schema.String,
  delivery_id_format: Schema.String,
  broadcast: Schema.Boolean.annotations({ description: "true when every tenant with a matching subscription receives it." }),
  schema: JsonValue.annotations({ description: "JSON Schema of the delivery body." }),
  example: JsonValue.annotations({ description: "An example delivery body." })
}).annotations({ identifier: "EventKindInfo" })

/** The event catalog, readable with any scope. */
export class EventKindsApi extends HttpApiGroup.make("eventKinds")
  .add(
    HttpApiEndpoint.get("list", "/v1/event-kinds")
      .addSuccess(Schema.Struct({ data: Schema.Array(EventKindInfo), next_cursor: Schema.Null }))
      .annotate(OpenApi.Description, "Every event kind: description, emit point, delivery-id format, JSON Schema and an example body.")
  )
  .middleware(Authentication)
  // Rendered once at module load from the catalog, so /docs shows every kind with its example body.
  .annotate(OpenApi.Description, eventKindsApiDescription())
{}
