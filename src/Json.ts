import { Schema } from "effect"

/**
 * Any JSON value, passed through unchecked. It is declared rather than
 * built on `Schema.Unknown` because the OpenAPI generator gives that one the
 * same `$id` at every use, which makes the document invalid; this one lists
 * the six JSON types instead.
 */
export const JsonValue = Schema.declare((_: unknown): _ is unknown => true, {
  identifier: "JsonValue",
  description: "Any JSON value.",
  jsonSchema: { type: ["object", "array", "string", "number", "boolean", "null"] }
})
