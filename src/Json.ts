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

/**
 * Marks a request body schema as strict: a field it does not declare is a
 * 400 naming that field, as the OpenAPI document's
 * `additionalProperties: false` promises, instead of being dropped unseen.
 * Bodies that other systems send, such as provider webhooks, stay lenient,
 * because their senders add fields over time.
 */
export const strictBody = <S extends Schema.Schema.Any>(schema: S): S =>
  schema.annotations({ parseOptions: { onExcessProperty: "error" } }) as S
