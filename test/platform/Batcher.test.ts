import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { makeBatcher } from "../../src/platform/Batcher.ts"

/**
 * A batcher whose `run` records every batch and waits for `gate` before it
 * returns each item doubled, so a test can hold a batch in progress.
 */
const makeGatedDoubler = (concurrency: number) =>
  Effect.gen(function*() {
    const batches = yield* Ref.make<ReadonlyArray<ReadonlyArray<number>>>([])
    const gate = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const { submit } = yield* makeBatcher({
      maxBatchSize: 3,
      concurrency,
      run: (items: ReadonlyArray<number>) =>
        Ref.update(batches, (all) => [...all, items]).pipe(
          Effect.zipRight(Deferred.succeed(started, undefined)),
          Effect.zipRight(Deferred.await(gate)),
          Effect.as(items.map((item) => item * 2))
        )
    })
    return { batches, gate, started, submit }
  })

describe("makeBatcher", () => {
  it.scoped("groups items queued during a batch", () =>
    Effect.gen(function*() {
      const { batches, gate, started, submit } = yield* makeGatedDoubler(1)

      const first = yield* Effect.fork(submit(1))
      yield* Deferred.await(started)
      const rest = yield* Effect.fork(Effect.forEach([2, 3, 4, 5], submit, { concurrency: "unbounded" }))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* Deferred.succeed(gate, undefined)

      expect(yield* Fiber.join(first)).toBe(2)
      expect(yield* Fiber.join(rest)).toEqual([4, 6, 8, 10])
      const all = yield* Ref.get(batches)
      expect(all[0]).toEqual([1])
      expect(all.flat().sort()).toEqual([1, 2, 3, 4, 5])
      // Four items queued behind a running batch of at most three make two more batches.
      expect(all.length).toBe(3)
      for (const batch of all) expect(batch.length).toBeLessThanOrEqual(3)
    }))

  it.scoped("fails every item of a failed batch", () =>
    Effect.gen(function*() {
      const { submit } = yield* makeBatcher({
        maxBatchSize: 10,
        concurrency: 1,
        run: (items: ReadonlyArray<number>) =>
          items.includes(0) ? Effect.fail("zero is invalid") : Effect.succeed(items.map((item) => 1 / item))
      })

      expect(yield* submit(4)).toBe(0.25)
      const exit = yield* Effect.exit(submit(0))
      expect(exit).toEqual(Exit.fail("zero is invalid"))
    }))

  it.scoped("reports a batch with a wrong result count as a defect", () =>
    Effect.gen(function*() {
      const { submit } = yield* makeBatcher({
        maxBatchSize: 10,
        concurrency: 1,
        run: (_items: ReadonlyArray<number>) => Effect.succeed([])
      })

      const exit = yield* Effect.exit(submit(1))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(Exit.isInterrupted(exit)).toBe(false)
    }))

  it.effect("finishes queued items when its scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { batches, gate, started, submit } = yield* makeGatedDoubler(1).pipe(Scope.extend(scope))

      const inProgress = yield* Effect.fork(submit(1))
      yield* Deferred.await(started)
      const queued = yield* Effect.fork(submit(2))
      yield* Effect.yieldNow()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(closing)

      expect(yield* Fiber.join(inProgress)).toBe(2)
      expect(yield* Fiber.join(queued)).toBe(4)
      expect(yield* Ref.get(batches)).toEqual([[1], [2]])
      const afterClose = yield* Effect.exit(submit(3))
      expect(Exit.isFailure(afterClose)).toBe(true)
    }))

  it.scoped("handles an item whose caller was interrupted", () =>
    Effect.gen(function*() {
      const { batches, gate, started, submit } = yield* makeGatedDoubler(1)

      const caller = yield* Effect.fork(submit(7))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(caller)
      yield* Deferred.succeed(gate, undefined)

      expect(yield* submit(8)).toBe(16)
      expect(yield* Ref.get(batches)).toEqual([[7], [8]])
    }))
})
