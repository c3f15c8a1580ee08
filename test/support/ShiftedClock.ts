import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"
import { DeliveryClock } from "../../src/webhooks/DeliveryClock.ts"

/** The offset added to real time by `ShiftedClock`; tests move it forward to make retries due. */
export class ClockOffset extends Context.Tag("test/ClockOffset")<ClockOffset, Ref.Ref<number>>() {
  /** Moves the engine's time forward by `duration`. */
  static readonly advance = (duration: Duration.DurationInput) =>
    Effect.flatMap(ClockOffset, (offset) => Ref.update(offset, (millis) => millis + Duration.toMillis(duration)))
}

/**
 * A `DeliveryClock` that reads real time plus an adjustable offset. Only the
 * delivery engine's own services get it, so moving the offset makes retries
 * due while the cluster underneath keeps real time (the cluster hangs under
 * `TestClock`).
 */
export const ShiftedClockLive = Layer.effect(
  DeliveryClock,
  Effect.map(ClockOffset, (offset) => {
    const real = Clock.make()
    return {
      currentTimeMillis: Effect.zipWith(real.currentTimeMillis, Ref.get(offset), (millis, shift) => millis + shift),
      unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + Effect.runSync(Ref.get(offset))
    }
  })
)

/** A fresh `ClockOffset` starting at zero, shared by the test and the engine it shifts. */
export const ClockOffsetLive = Layer.effect(ClockOffset, Ref.make(0))
