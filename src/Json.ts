import { Schema } from "effect"

/**
 * Any JSON value, passed through unchecked. The OpenAPI generator gives
 * `Schema.Unknown` the same `$id` at every use, which makes the document
 * invalid, so this schema is declared and lists the six JSON types instead.
 */
export const JsonValue = Schema.declare((_: unknown): _ is unknown => true, {
  identifier: "JsonValue",
  description: "Any JSON value.",
  jsonSchema: { type: ["object", "array", "string", "number", "boolean", "null"] }
})
