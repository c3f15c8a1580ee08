import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Ref, TestClock } from "effect"
import {
  classify,
  DeliveryTimedOut,
  EndpointFailed,
  EndpointRedirected,
  EndpointRejected,
  EndpointUnreachable,
  judgeAttempt,
  maxAttempts,
  retryDelay,
  retrySchedule,
  TargetBlocked,
  type SendResult
} from "../../src/webhooks/RetryPolicy.ts"

const response = (statusCode: number, location?: string): SendResult => ({
  _tag: "Response",
  statusCode,
  location,
  responseBody: ""
})

describe("RetryPolicy", () => {
  it("retry delays are 1m, 5m, 30m, 2h, 8h", () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => Duration.toMillis(Option.getOrThrow(retryDelay(attempt))))
    expect(delays).toEqual([
      Duration.toMillis("1 minute"),
      Duration.toMillis("5 minutes"),
      Duration.toMillis("30 minutes"),
      Duration.toMillis("2 hours"),
      Duration.toMillis("8 hours")
    ])
  })

  it("gives up after the fifth retry", () => {
    expect(Option.isNone(retryDelay(6))).toBe(true)
    expect(Option.isNone(retryDelay(7))).toBe(true)
    expect(maxAttempts).toBe(6)
  })

  it("rejects attempt numbers below one", () => {
    expect(Option.isNone(retryDelay(0))).toBe(true)
    expect(Option.isNone(retryDelay(-1))).toBe(true)
    expect(Option.isNone(retryDelay(1.5))).toBe(true)
  })

  it.effect("Effect.retry with the schedule makes six attempts", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const failing = Ref.updateAndGet(attempts, (count) => count + 1).pipe(
        Effect.flatMap((count) => Effect.fail(`attempt ${count} failed`))
      )
      const fiber = yield* Effect.fork(Effect.retry(failing, retrySchedule))

      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("5 minutes")
      expect(yield* Ref.get(attempts)).toBe(3)
      yield* TestClock.adjust("30 minutes")
      expect(yield* Ref.get(attempts)).toBe(4)
      yield* TestClock.adjust("2 hours")
      expect(yield* Ref.get(attempts)).toBe(5)
      yield* TestClock.adjust("8 hours")

      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Failure")
      expect(yield* Ref.get(attempts)).toBe(6)
    }))

  it.effect("Effect.retry waits the full delay", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const failing = Ref.update(attempts, (count) => count + 1).pipe(Effect.zipRight(Effect.fail("down")))
      yield* Effect.fork(Effect.retry(failing, retrySchedule))

      yield* TestClock.adjust(Duration.millis(59_999))
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Ref.get(attempts)).toBe(2)
    }))
})

describe("classify", () => {
  it("2xx succeeds", () => {
    expect(Option.isNone(classify(response(200)))).toBe(true)
    expect(Option.isNone(classify(response(204)))).toBe(true)
    expect(Option.isNone(classify(response(299)))).toBe(true)
  })

  it("3xx is a redirect error naming Location", () => {
    const error = Option.getOrThrow(classify(response(302, "https://example.test/final")))
    expect(error).toBeInstanceOf(EndpointRedirected)
    expect(error.retryable).toBe(false)
    expect(error.message).toContain("302")
    expect(error.message).toContain("https://example.test/final")
    expect(error.message).toContain("update the subscription URL")
  })

  it("3xx without Location says so", () => {
    const error = Option.getOrThrow(classify(response(307)))
    expect(error.message).toContain("without a Location header")
  })

  it("4xx is not retryable", () => {
    for (const status of [400, 401, 404, 410, 429, 499]) {
      const error = Option.getOrThrow(classify(response(status)))
      expect(error).toBeInstanceOf(EndpointRejected)
      expect(error.retryable).toBe(false)
      expect(error.message).toContain(String(status))
    }
  })

  it("5xx is retryable", () => {
    for (const status of [500, 502, 503, 504]) {
      const error = Option.getOrThrow(classify(response(status)))
      expect(error).toBeInstanceOf(EndpointFailed)
      expect(error.retryable).toBe(true)
    }
  })

  it("timeout is retryable", () => {
    const error = Option.getOrThrow(classify({ _tag: "TimedOut", timeout: Duration.seconds(8) }))
    expect(error).toBeInstanceOf(DeliveryTimedOut)
    expect(error.retryable).toBe(true)
    expect(error.message).toContain("8000 ms")
  })

  it("connection reset is retryable", () => {
    const error = Option.getOrThrow(classify({ _tag: "ConnectionFailed", reason: "ECONNRESET: socket hang up" }))
    expect(error).toBeInstanceOf(EndpointUnreachable)
    expect(error.retryable).toBe(true)
    expect(error.message).toContain("ECONNRESET")
  })

  it("blocked target says nothing was sent", () => {
    const reason = "10.0.0.5 is a loopback, private or reserved address, and deliveries go to public addresses only"
    const error = Option.getOrThrow(classify({ _tag: "Blocked", reason }))
    expect(error).toBeInstanceOf(TargetBlocked)
    expect(error.retryable).toBe(true)
    expect(error.message).toBe(`The request was not sent: ${reason}.`)
  })
})

describe("judgeAttempt", () => {
  it("retries 5xx until the sixth attempt", () => {
    const outcomes = [1, 2, 3, 4, 5, 6].map((attempt) => judgeAttempt(attempt, response(503)).outcome)
    expect(outcomes).toEqual(["retry", "retry", "retry", "retry", "retry", "failed"])
  })

  it("retry carries the schedule's delay", () => {
    const verdict = judgeAttempt(2, { _tag: "TimedOut", timeout: Duration.seconds(8) })
    expect(verdict.outcome).toBe("retry")
    expect(Duration.toMillis(Option.getOrThrow(verdict.retryAfter))).toBe(Duration.toMillis("5 minutes"))
  })

  it("4xx and 3xx fail on the first attempt", () => {
    expect(judgeAttempt(1, response(404)).outcome).toBe("failed")
    expect(judgeAttempt(1, response(301, "https://example.test/")).outcome).toBe("failed")
    expect(Option.isNone(judgeAttempt(1, response(404)).retryAfter)).toBe(true)
  })

  it("2xx succeeds without error", () => {
    const verdict = judgeAttempt(3, response(201))
    expect(verdict.outcome).toBe("succeeded")
    expect(Option.isNone(verdict.error)).toBe(true)
  })
})
