import { Schema } from "effect"
import { BadRequest } from "./ApiErrors.ts"

/** Query parameters of every list route: `limit` (1 to 100, default 20) and an opaque `cursor`. */
export const ListParams = Schema.Struct({
  limit: Schema.optionalWith(
    // Digits only: `NumberFromString` alone also reads `1e1`, `0x10` and `+5`.
    Schema.compose(Schema.String.pipe(Schema.pattern(/^[0-9]{1,3}$/)), Schema.NumberFromString).pipe(
      Schema.int(),
      Schema.between(1, 100)
    ).annotations({
      description: "Maximum number of items to return, 1 to 100.",
      message: () => ({ message: "must be an integer from 1 to 100", override: true })
    }),
    { default: () => 20 }
  ),
  cursor: Schema.optional(Schema.String.annotations({ description: "The `next_cursor` of the previous page." }))
})
export type ListParams = typeof ListParams.Type

/** One page of a list: the items and the cursor of the next page, or null on the last one. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ data: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })

/** Position after one row of a list ordered by `created_at DESC, id DESC`. */
export interface Position {
  readonly createdAt: Date
  readonly id: string
}

/** Encodes the position of the last row of a page as an opaque cursor. */
export const encodeCursor = (position: Position): string =>
  Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString("base64url")

/** Maximum length of a cursor id; every id of the service is far shorter. */
const maxCursorIdLength = 200

/** Returns whether `id` is a UUID in its text form, for lists whose ids are `uuid` columns. */
export const isUuidText = (id: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)

/**
 * Decodes a cursor made by `encodeCursor`; `undefined` for anything else.
 * Its time must fall in the years 1 to 9999, and its id must pass `isId`
 * and contain no NUL. A crafted cursor, or one of another list, is then
 * rejected here, where PostgreSQL's column types would reject it with an
 * error.
 */
export const decodeCursor = (cursor: string, isId: (id: string) => boolean = () => true): Position | undefined => {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      const createdAt = new Date(parsed[0])
      const year = createdAt.getUTCFullYear()
      const id = parsed[1]
      const validTime = !Number.isNaN(createdAt.getTime()) && year >= 1 && year <= 9999
      const validId = id !== "" && id.length <= maxCursorIdLength && !id.includes("\u0000") && isId(id)
      return validTime && validId ? { createdAt, id } : undefined
    }
  } catch {
    // A cursor that is not base64url JSON is reported as invalid by the caller.
  }
  return undefined
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row, if present,
 * only shows that another page exists.
 */
export const toPage = <Row, A>(
  rows: ReadonlyArray<Row>,
  limit: number,
  position: (row: Row) => Position,
  encode: (row: Row) => A
) => {
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  return {
    data: items.map(encode),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null
  }
}

/** The 400 of a `cursor` that this list did not issue, the same on every list. */
export const invalidCursor = () =>
  new BadRequest({
    field: "cursor",
    message: "Invalid cursor: pass the next_cursor of the previous page unchanged, or omit it for the first page."
  })
