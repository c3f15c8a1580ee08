import { Effect } from "effect"

/**
 * A counting semaphore that hands each released permit to the longest
 * waiter, and wakes only that one.
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
  /**
   * Calls `granted` once a permit is held: at once when one is free, else
   * in a microtask once one is handed over, in arrival order. The holder gives it back with
   * `unsafeRelease`. Returns a function that leaves the line; it returns
   * false when the permit was already granted.
   */
  readonly unsafeTake: (granted: () => void) => () => boolean
  /** Gives back a permit taken with `unsafeTake`. */
  readonly unsafeRelease: () => void
  /** Number of permits not held at the moment. */
  readonly free: () => number
  /** Number of waiters in line for a permit at the moment. */
  readonly waiting: () => number
}

/** Creates a `PermitQueue` with `permits` permits. */
export const makePermitQueue = (permits: number): Effect.Effect<PermitQueue> =>
  Effect.sync(() => {
    let free = permits
    // A Set keeps insertion order, so its first entry is the longest waiter.
    const waiters = new Set<() => void>()

    /** Hands the permit to the first waiter, or returns it to the pool when none waits. */
    const unsafeRelease = () => {
      const first = waiters.values().next()
      if (first.done === true) {
        free++
        return
      }
      waiters.delete(first.value)
      // Handed over in a microtask of its own, so that a waiter that gives
      // its permit back at once does not grow the stack with each hand-over.
      queueMicrotask(first.value)
    }

    const unsafeTake = (granted: () => void) => {
      if (free > 0) {
        free--
        granted()
        return () => false
      }
      waiters.add(granted)
      return () => waiters.delete(granted)
    }

    const take = Effect.async<void>((resume) => {
      const leave = unsafeTake(() => resume(Effect.void))
      // Still in line: leave it. Already handed a permit: pass that permit on.
      return Effect.sync(() => {
        if (!leave()) unsafeRelease()
      })
    })

    const release = Effect.sync(unsafeRelease)

    return {
      withPermit: (effect) =>
        Effect.uninterruptibleMask((restore) => Effect.zipRight(restore(take), Effect.ensuring(restore(effect), release))),
      unsafeTake,
      unsafeRelease,
      free: () => free,
      waiting: () => waiters.size
    }
  })
