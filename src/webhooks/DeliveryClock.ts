import { Context, Effect, Layer } from "effect"

/**
 * Wall-clock time of the delivery engine: when deliveries are due,
 * when an attempt started, how long a claim lasts. It is a port of its own,
 * apart from the `Clock` of the fiber, so tests can move the engine's notion
 * of "now" forward without touching the timers of the cluster it runs on.
 */
export class DeliveryClock extends Context.Tag("saleslab/DeliveryClock")<DeliveryClock, {
  /** Current time in milliseconds since the Unix epoch. */
  readonly currentTimeMillis: Effect.Effect<number>
  /** The same time read outside a fiber, such as in the attempts of a batch. */
  readonly unsafeCurrentTimeMillis: () => number
}>() {
  /**
   * Time from the Effect `Clock` in place when the layer is built. It is
   * captured, so a caller on another fiber, such as an HTTP handler that
   * starts a sweep, reads the same clock as the engine.
   */
  static readonly layer = Layer.effect(
    DeliveryClock,
    Effect.map(Effect.clock, (clock) => ({
      currentTimeMillis: clock.currentTimeMillis,
      unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis()
    }))
  )
}

/** Returns an effect that reads `clock` as a `Date`. */
export const currentDate = (clock: DeliveryClock["Type"]): Effect.Effect<Date> =>
  Effect.map(clock.currentTimeMillis, (millis) => new Date(millis))
