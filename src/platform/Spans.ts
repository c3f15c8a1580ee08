import { Effect, FiberRef, LogLevel } from "effect"
import type * as Tracer from "effect/Tracer"

/**
 * Wraps `self` in `Effect.withSpan` when `traced` is true, for code that has
 * read the tracer's state once for several spans.
 */
export const withSpanIf = (traced: boolean, name: string, options: Tracer.SpanOptions) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => traced ? Effect.withSpan(self, name, options) : self

/**
 * Wraps `self` in `Effect.withSpan` when the tracer is enabled, and returns
 * it unchanged when it is not. A span costs far more than that check:
 * Effect copies the fiber's context and fiber references for each one,
 * which on the delivery path allocated several hundred kilobytes per
 * delivery.
 */
export const withSpanWhenTracing = (name: string, options: Tracer.SpanOptions) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (enabled) => withSpanIf(enabled, name, options)(self))

/** Annotates the current span when the tracer is enabled, and does nothing when it is not. */
export const annotateSpanWhenTracing = (key: string, value: unknown): Effect.Effect<void> =>
  Effect.flatMap(
    FiberRef.get(FiberRef.currentTracerEnabled),
    (enabled) => enabled ? Effect.annotateCurrentSpan(key, value) : Effect.void
  )

/**
 * Logs `message` at `level` with `annotations`, after checking the minimum
 * log level, so that a line below it costs no annotation of the fiber.
 */
export const logWhenEnabled = (level: LogLevel.LogLevel, message: string, annotations: { readonly [key: string]: unknown }) =>
  Effect.flatMap(
    FiberRef.get(FiberRef.currentMinimumLogLevel),
    (minimum) =>
      LogLevel.greaterThanEqual(level, minimum)
        ? Effect.logWithLevel(level, message).pipe(Effect.annotateLogs(annotations))
        : Effect.void
  )
