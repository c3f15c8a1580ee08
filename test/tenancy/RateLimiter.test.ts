import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, TestClock } from "effect"
import { makeMemory } from "../../src/tenancy/RateLimiter.ts"

const consumeTimes = (limiter: ReturnType<typeof makeMemory>, key: string, times: number) =>
  Effect.forEach(Array.from({ length: times }), () => Effect.either(limiter.consume(key)))

describe("RateLimiter memory", () => {
  it.effect("allows the minute limit, then rejects", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 3, perDay: 100 })
      const results = yield* consumeTimes(limiter, "token-a", 3)
      expect(results.every(Either.isRight)).toBe(true)

      yield* TestClock.adjust("20 seconds")
      const rejected = yield* Effect.flip(limiter.consume("token-a"))
      expect(rejected.window).toBe("minute")
      expect(rejected.limit).toBe(3)
      expect(Duration.toMillis(rejected.retryAfter)).toBe(40_000)
      expect(rejected.rejections).toBe(1)
    }))

  it.effect("minute window resets after a minute", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 2, perDay: 100 })
      yield* consumeTimes(limiter, "token-a", 2)
      expect(Either.isLeft(yield* Effect.either(limiter.consume("token-a")))).toBe(true)

      yield* TestClock.adjust("59999 millis")
      expect(Either.isLeft(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(Either.isRight(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
    }))

  it.effect("rejected requests are not counted", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 2, perDay: 3 })
      yield* consumeTimes(limiter, "token-a", 2)
      const rejected = yield* consumeTimes(limiter, "token-a", 5)
      expect(rejected.every(Either.isLeft)).toBe(true)

      // Only the two accepted requests count against the day, so one more fits after the minute.
      yield* TestClock.adjust("1 minute")
      expect(Either.isRight(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
      const dayRejection = yield* Effect.flip(limiter.consume("token-a"))
      expect(dayRejection.window).toBe("day")
    }))

  it.effect("day limit reports the day window", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 10, perDay: 4 })
      for (let minute = 0; minute < 4; minute++) {
        expect(Either.isRight(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
        yield* TestClock.adjust("1 minute")
      }
      const rejected = yield* Effect.flip(limiter.consume("token-a"))
      expect(rejected.window).toBe("day")
      expect(rejected.limit).toBe(4)
      expect(Duration.toMillis(rejected.retryAfter)).toBe(Duration.toMillis(Duration.decode("24 hours")) - 4 * 60_000)

      yield* TestClock.adjust(rejected.retryAfter)
      expect(Either.isRight(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
    }))

  it.effect("keys are counted apart", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 1, perDay: 100 })
      expect(Either.isRight(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
      expect(Either.isLeft(yield* Effect.either(limiter.consume("token-a")))).toBe(true)
      expect(Either.isRight(yield* Effect.either(limiter.consume("token-b")))).toBe(true)
    }))

  it.effect("rejections count within a window", () =>
    Effect.gen(function*() {
      const limiter = makeMemory({ perMinute: 1, perDay: 100 })
      yield* limiter.consume("token-a")
      const first = yield* Effect.flip(limiter.consume("token-a"))
      const second = yield* Effect.flip(limiter.consume("token-a"))
      expect(first.rejections).toBe(1)
      expect(second.rejections).toBe(2)

      yield* TestClock.adjust("1 minute")
      yield* limiter.consume("token-a")
      const afterReset = yield* Effect.flip(limiter.consume("token-a"))
      expect(afterReset.rejections).toBe(1)
    }))
})
