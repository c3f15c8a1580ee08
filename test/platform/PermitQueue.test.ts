import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, TestClock } from "effect"
import { makePermitQueue } from "../../src/platform/PermitQueue.ts"

/** Lets forked fibers run until each holds a permit or waits for one. */
const settle = TestClock.adjust("1 millis")

describe("PermitQueue", () => {
  it.effect("runs at most its permits at once", () =>
    Effect.gen(function*() {
      const permits = yield* makePermitQueue(3)
      let running = 0
      let maxRunning = 0
      const task = permits.withPermit(Effect.gen(function*() {
        running++
        maxRunning = Math.max(maxRunning, running)
        yield* Effect.sleep("10 millis")
        running--
      }))
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 20 }, () => task), { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(maxRunning).toBe(3)
      expect(permits.free()).toBe(3)
    }))

  it.effect("hands permits out in arrival order", () =>
    Effect.gen(function*() {
      const permits = yield* makePermitQueue(1)
      const gate = yield* Deferred.make<void>()
      const order: Array<number> = []
      const holder = yield* Effect.fork(permits.withPermit(Deferred.await(gate)))
      yield* settle
      const waiters: Array<Fiber.RuntimeFiber<void>> = []
      for (let index = 0; index < 50; index++) {
        waiters.push(yield* Effect.fork(permits.withPermit(Effect.sync(() => {
          order.push(index)
        }))))
        yield* settle
      }
      expect(permits.waiting()).toBe(50)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.joinAll(waiters)
      expect(order).toEqual(Array.from({ length: 50 }, (_, index) => index))
    }))

  it.effect("removes an interrupted waiter from the line", () =>
    Effect.gen(function*() {
      const permits = yield* makePermitQueue(1)
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(permits.withPermit(Deferred.await(gate)))
      yield* settle
      const waiter = yield* Effect.fork(permits.withPermit(Effect.void))
      yield* settle
      yield* Fiber.interrupt(waiter)
      expect(permits.waiting()).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      expect(permits.free()).toBe(1)
    }))

  it.effect("returns the permit of an interrupted holder", () =>
    Effect.gen(function*() {
      const permits = yield* makePermitQueue(1)
      const holder = yield* Effect.fork(permits.withPermit(Effect.never))
      yield* settle
      const next = yield* Effect.fork(permits.withPermit(Effect.succeed("ran")))
      yield* settle
      yield* Fiber.interrupt(holder)
      expect(yield* Fiber.join(next)).toBe("ran")
      expect(permits.free()).toBe(1)
    }))

  it.effect("returns the permit when the effect fails", () =>
    Effect.gen(function*() {
      const permits = yield* makePermitQueue(1)
      const failed = yield* Effect.flip(permits.withPermit(Effect.fail("boom")))
      expect(failed).toBe("boom")
      expect(permits.free()).toBe(1)
    }))
})
