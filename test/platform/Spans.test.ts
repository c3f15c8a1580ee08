import { describe, expect, it } from "@effect/vitest"
import { Effect, FiberRef, HashMap, Layer, Logger, LogLevel, Option } from "effect"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { annotateSpanWhenTracing, logWhenEnabled, withSpanWhenTracing } from "../../src/platform/Spans.ts"
import { TracingLive } from "../../src/platform/Tracing.ts"

/** The span around the effect, with the attribute that the effect sets on it, or none when there is no span. */
const spanSeenInside = withSpanWhenTracing("Test.phase", { attributes: { "test.id": "a1" } })(
  Effect.gen(function*() {
    yield* annotateSpanWhenTracing("test.outcome", "succeeded")
    return yield* Effect.option(Effect.currentSpan)
  })
)

/** Log lines written by `effect` at any level, each with its level, message and annotations. */
const captureLogs = <A, E>(effect: Effect.Effect<A, E>, minimum: LogLevel.LogLevel) =>
  Effect.gen(function*() {
    const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ annotations, logLevel, message }) => {
      lines.push({ level: logLevel.label, message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    })
    yield* effect.pipe(Logger.withMinimumLogLevel(minimum), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return lines
  })

describe("Spans", () => {
  it.effect("makes spans while tracing", () =>
    Effect.gen(function*() {
      const span = Option.getOrThrow(yield* spanSeenInside)
      expect(span.name).toBe("Test.phase")
      expect(span.attributes.get("test.id")).toBe("a1")
      expect(span.attributes.get("test.outcome")).toBe("succeeded")
    }))

  it.effect("makes no span while not tracing", () =>
    Effect.gen(function*() {
      // Effect.withSpan would still provide a no-op span here.
      expect(Option.isNone(yield* spanSeenInside)).toBe(true)
    }).pipe(Effect.withTracerEnabled(false)))

  it.effect("disables the tracer without endpoint", () =>
    Effect.gen(function*() {
      expect(yield* FiberRef.get(FiberRef.currentTracerEnabled)).toBe(false)
      expect(Option.isNone(yield* spanSeenInside)).toBe(true)
    }).pipe(Effect.provide(TracingLive.pipe(Layer.provide(AppConfig.layerTest())))))

  it.effect("logs a line at the minimum level", () =>
    Effect.gen(function*() {
      const lines = yield* captureLogs(logWhenEnabled(LogLevel.Debug, "Attempt finished", { delivery_id: "d1" }), LogLevel.Debug)
      expect(lines).toEqual([{ level: "DEBUG", message: ["Attempt finished"], annotations: { delivery_id: "d1" } }])
    }))

  it.effect("skips a line below the minimum", () =>
    Effect.gen(function*() {
      const lines = yield* captureLogs(logWhenEnabled(LogLevel.Debug, "Attempt finished", { delivery_id: "d1" }), LogLevel.Info)
      expect(lines).toEqual([])
    }))
})
