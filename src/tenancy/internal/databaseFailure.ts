import { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { InternalError } from "../../ApiErrors.ts"

/**
 * Logs a failed query with its cause and fails with the opaque 500 instead,
 * so that no SQL text or driver message reaches a response.
 */
export const orInternalError = <A, E, R>(
  self: Effect.Effect<A, E | SqlError, R>
): Effect.Effect<A, Exclude<E, SqlError> | InternalError, R> =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError("Database query failed", error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )
