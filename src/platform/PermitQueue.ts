import { Deferred, Effect, Exit, FiberId } from "effect"

/**
 * A counting semaphore that hands each released permit to the longest
 * waiting fiber, and wakes only that fiber.
 *
 * Effect's own `Semaphore` (effect 3.22) wakes every waiter on each release
 * and lets them race for the permit, and the losers queue again. So each
 * release costs work in proportion to the waiters: with thousands of
 * subscription drains waiting for attempt permits, thousands of fiber
 * resumptions per finished attempt.
 */
export interface PermitQueue {
  /** Runs `effect` while holding one permit, waiting in line for it when none is free. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Number of permits not held at the moment. */
  readonly free: () => number
  /** Number of fibers waiting for a permit at the moment. */
  readonly waiting: () => number
}

/** Creates a `PermitQueue` with `permits` permits. */
export const makePermitQueue = (permits: number): Effect.Effect<PermitQueue> =>
  Effect.sync(() => {
    let free = permits
    // A Set keeps insertion order, so its first entry is the longest waiting fiber.
    const waiters = new Set<Deferred.Deferred<void>>()

    /** Hands the permit to the first waiter, or returns it to the pool when no fiber waits. */
    const releaseUnsafe = () => {
      const first = waiters.values().next()
      if (first.done === true) {
        free++
        return
      }
      waiters.delete(first.value)
      Deferred.unsafeDone(first.value, Exit.void)
    }

    const take = Effect.suspend(() => {
      if (free > 0) {
        free--
        return Effect.void
      }
      const handedOver = Deferred.unsafeMake<void>(FiberId.none)
      waiters.add(handedOver)
      return Deferred.await(handedOver).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            // Still in line: leave it. Already handed a permit: pass that permit on.
            if (!waiters.delete(handedOver)) releaseUnsafe()
          })
        )
      )
    })

    const release = Effect.sync(releaseUnsafe)

    return {
      withPermit: (effect) =>
        Effect.uninterruptibleMask((restore) => Effect.zipRight(restore(take), Effect.ensuring(restore(effect), release))),
      free: () => free,
      waiting: () => waiters.size
    }
  })
