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
 * Marks a query parameter schema as strict, as `strictBody` does a body: a
 * parameter the route does not declare, such as a misspelt `limt`, is a 400
 * naming it, instead of being ignored while the default applies.
 */
export const strictQuery: typeof strictBody = strictBody

/**
 * Returns the number of Unicode characters (code points) in `text`, as
 * JSON Schema's `maxLength` and PostgreSQL's `length` count them: a
 * surrogate pair, such as an emoji, counts once, where `text.length` counts
 * it twice.
 */
export const characterCount = (text: string): number => {
  let count = text.length
  for (let index = 1; index < text.length; index++) {
    const code = text.charCodeAt(index)
    const previous = text.charCodeAt(index - 1)
    if (code >= 0xdc00 && code <= 0xdfff && previous >= 0xd800 && previous <= 0xdbff) count--
  }
  return count
}

/** Returns the first `max` Unicode characters of `text`, never splitting a surrogate pair. */
export const sliceCharacters = (text: string, max: number): string => {
  let units = 0
  for (let characters = 0; characters < max && units < text.length; characters++) {
    const code = text.charCodeAt(units)
    const next = text.charCodeAt(units + 1)
    units += code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1
  }
  return text.slice(0, units)
}

/**
 * Limits a string to `max` Unicode characters (`characterCount`), with the
 * description and the OpenAPI `maxLength` of `Schema.maxLength`, which
 * counts UTF-16 code units instead.
 */
export const maxCharacters =
  <S extends Schema.Schema.Any>(max: number, annotations?: Schema.Annotations.Filter<Schema.Schema.Type<S>>) =>
  <A extends string>(self: S & Schema.Schema<A, Schema.Schema.Encoded<S>, Schema.Schema.Context<S>>): Schema.filter<S> =>
    self.pipe(
      Schema.filter((text) => characterCount(text as string) <= max, {
        title: `maxLength(${max})`,
        description: `a string at most ${max} character(s) long`,
        jsonSchema: { maxLength: max },
        ...annotations
      })
    )

/** Year, month, day, hours, minutes, seconds and zone offset of an ISO 8601 timestamp, in groups 1 to 6, 8 and 9. */
const isoTimestampPattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/

/**
 * Returns whether each field of a timestamp that matches
 * `isoTimestampPattern` is in range, so that the day exists in its month.
 * `Date` moves an impossible day on instead of rejecting it, so that
 * `2026-02-30` would be read as March 2.
 */
const fieldsExist = (text: string): boolean => {
  const match = isoTimestampPattern.exec(text)
  if (match === null) return true
  const [year, month, day, hours, minutes] = match.slice(1, 6).map(Number) as [number, number, number, number, number]
  const seconds = match[6] === undefined ? 0 : Number(match[6])
  // Day 0 of the next month is the last day of this one. `setUTCFullYear`
  // reads years below 100 as they are, where `Date.UTC` adds 1900.
  const lastDay = new Date(0)
  lastDay.setUTCFullYear(year, month, 0)
  const daysInMonth = lastDay.getUTCDate()
  const offsetHours = match[8] === undefined ? 0 : Number(match[8])
  const offsetMinutes = match[9] === undefined ? 0 : Number(match[9])
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hours <= 23 && minutes <= 59 && seconds <= 59 &&
    offsetHours <= 23 && offsetMinutes <= 59
}

/**
 * An ISO 8601 timestamp with a four-digit year and a time zone, such as
 * `2026-05-19T13:42:08.123Z`, decoded to a `Date`. `Schema.Date` alone takes
 * any text that `Date` parses, such as `May 19 2026` or a six-digit year,
 * which responses would then return in a form that is not RFC 3339.
 */
export const IsoTimestamp = Schema.compose(
  Schema.String.pipe(
    Schema.pattern(isoTimestampPattern, {
      message: () => "must be an ISO 8601 timestamp with a time zone, such as 2026-05-19T13:42:08.123Z"
    }),
    Schema.filter((text) => fieldsExist(text), {
      message: (issue) =>
        `${JSON.stringify(issue.actual)} is out of range: a month, day, hour, minute, second or offset does not exist, such as February 30 or hour 24`
    })
  ),
  Schema.Date
)
