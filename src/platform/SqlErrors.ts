import { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { InternalError } from "../ApiErrors.ts"

/**
 * Logs a failed query under `message` and fails with the opaque 500
 * `InternalError` instead, so that no SQL reaches a response.
 */
export const sqlErrorsAsInternal = (message: string) => <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(
    self,
    (error): error is SqlError => error instanceof SqlError,
    (error) =>
      Effect.zipRight(
        Effect.logError(message, error),
        Effect.fail(new InternalError({ message: "An internal error occurred. Retry the request later." }))
      )
  )
