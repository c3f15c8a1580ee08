import { Effect, Schema } from "effect"
import { BadRequest } from "../../ApiErrors.ts"
import { decodeCursor, invalidCursor, type Position } from "../../Pagination.ts"

const isUuid = Schema.is(Schema.UUID)

/**
 * Decodes the `cursor` query parameter of a list ordered by
 * `created_at DESC, id DESC` over uuid ids. Absent means the first page, and a
 * cursor this service did not issue is a 400 naming the parameter.
 */
export const parseCursor = (cursor: string | undefined): Effect.Effect<Position | undefined, BadRequest> => {
  if (cursor === undefined) return Effect.succeed(undefined)
  const position = decodeCursor(cursor)
  return position !== undefined && isUuid(position.id)
    ? Effect.succeed(position)
    : Effect.fail(invalidCursor())
}
