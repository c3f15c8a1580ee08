import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, TestClock } from "effect"
import { type EntityPlace, localWakesInFlight, makeBackgroundWakerOf, type RunningDrain } from "../../src/webhooks/DeliveryPartition.ts"

/** A wake-up that records its start and then waits until `release` is done. */
const makeBlockedWake = Effect.gen(function*() {
  const release = yield* Deferred.make<void>()
  const started: Array<string> = []
  const wake = (subscriptionId: string) =>
    Effect.suspend(() => {
      started.push(subscriptionId)
      return Deferred.await(release)
    })
  return { wake, started, release } as const
})

const placeByPrefix = (subscriptionId: string): EntityPlace =>
  subscriptionId.startsWith("remote") ? "elsewhere" : "here"

/** Lets the background fibers run until each has started or is waiting for a permit. */
const settle = TestClock.adjust("1 millis")

describe("Background waker", () => {
  it.scoped("bounds local wake-ups in flight", () =>
    Effect.gen(function*() {
      const { wake, started, release } = yield* makeBlockedWake
      const wakeInBackground = yield* makeBackgroundWakerOf(wake, placeByPrefix, new Map())
      const count = localWakesInFlight * 3
      for (let index = 0; index < count; index++) yield* wakeInBackground(`local-${index}`)
      yield* settle
      expect(started.length).toBe(localWakesInFlight)
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect(new Set(started).size).toBe(count)
    }))

  it.scoped("leaves remote wake-ups unbounded", () =>
    Effect.gen(function*() {
      const { wake, started } = yield* makeBlockedWake
      const wakeInBackground = yield* makeBackgroundWakerOf(wake, placeByPrefix, new Map())
      for (let index = 0; index < localWakesInFlight; index++) yield* wakeInBackground(`local-${index}`)
      for (let index = 0; index < 10; index++) yield* wakeInBackground(`remote-${index}`)
      yield* settle
      expect(started.filter((id) => id.startsWith("remote")).length).toBe(10)
    }))

  it.scoped("keeps one wake-up per subscription", () =>
    Effect.gen(function*() {
      const { wake, started, release } = yield* makeBlockedWake
      const wakeInBackground = yield* makeBackgroundWakerOf(wake, placeByPrefix, new Map())
      yield* wakeInBackground("local-1")
      yield* wakeInBackground("local-1")
      yield* settle
      expect(started).toEqual(["local-1"])
      yield* Deferred.succeed(release, undefined)
      yield* settle
      yield* wakeInBackground("local-1")
      yield* settle
      expect(started).toEqual(["local-1", "local-1"])
    }))

  it.scoped("requests a running drain's next pass", () =>
    Effect.gen(function*() {
      const { wake, started } = yield* makeBlockedWake
      const drains = new Map<string, RunningDrain>([
        ["local-1", { passRequested: false, subscriptionChanged: false }],
        ["remote-1", { passRequested: false, subscriptionChanged: false }]
      ])
      const wakeInBackground = yield* makeBackgroundWakerOf(wake, placeByPrefix, drains)
      yield* wakeInBackground("local-1")
      // A drain of this runner's map that runs elsewhere now, its shard having moved, gets a wake-up as usual.
      yield* wakeInBackground("remote-1")
      yield* wakeInBackground("local-2")
      yield* settle
      expect(drains.get("local-1")!.passRequested).toBe(true)
      expect(drains.get("remote-1")!.passRequested).toBe(false)
      expect(started.sort()).toEqual(["local-2", "remote-1"])
    }))

  it.scoped("interrupts wake-ups when scope closes", () =>
    Effect.gen(function*() {
      const { wake, started } = yield* makeBlockedWake
      const interrupted = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
        const wakeInBackground = yield* makeBackgroundWakerOf(
          (id) => Effect.onInterrupt(wake(id), () => Deferred.succeed(interrupted, undefined)),
          placeByPrefix,
          new Map()
        )
        yield* wakeInBackground("local-1")
        yield* settle
      })))
      yield* Fiber.join(fiber)
      expect(started).toEqual(["local-1"])
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))
})
