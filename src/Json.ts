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

/**
 * An ISO 8601 timestamp with a four-digit year and a time zone, such as
 * `2026-05-19T13:42:08.123Z`, decoded to a `Date`. `Schema.Date` alone takes
 * any text that `Date` parses, such as `May 19 2026` or a six-digit year,
 * which responses would then return in a form that is not RFC 3339.
 */
export const IsoTimestamp = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/, {
      message: () => "must be an ISO 8601 timestamp with a time zone, such as 2026-05-19T13:42:08.123Z"
    })
  ),
  Schema.Date
)
