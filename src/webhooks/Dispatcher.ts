import { PgClient } from "@effect/sql-pg"
import { Cause, Clock, Data, Deferred, Duration, Effect, Exit, Layer, Option, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../platform/AppConfig.ts"
import { deliveryChannel } from "./Outbox.ts"
import { makeWaker } from "./WebhookEndpoint.ts"

/** Payload prefix of probe notifications. Subscription ids start with `sub_`, so they never match it. */
const probePrefix = "probe:"

/** Time a probe notification may take to come back before the connection is deemed lost. */
const probeDeadline = Duration.seconds(5)

/** Maximum delay between two reconnection attempts. */
const maxReconnectDelay = Duration.seconds(30)

/** A probe sent on the LISTEN channel did not come back in time. */
class ListenConnectionLost extends Data.TaggedError("ListenConnectionLost")<{ readonly probe: string }> {
  override get message() {
    return `The probe notification ${this.probe} did not arrive within ${Duration.format(probeDeadline)}.`
  }
}

/**
 * Listens on the `webhook_deliveries` channel and wakes the entity of the
 * subscription named by each notification. A dropped LISTEN connection does
 * not end the notification stream by itself, so the dispatcher sends itself
 * probe notifications every `AppConfig.listenProbeInterval`. When one does
 * not come back, or the listener fails, it reconnects with exponential
 * backoff. Notifications sent while disconnected are lost, and the sweeper
 * wakes those subscriptions instead.
 */
export const DispatcherLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const wake = yield* makeWaker
    const { listenProbeInterval } = yield* AppConfig
    const runnerToken = randomUUID()

    let awaitedProbe: Option.Option<{ readonly payload: string; readonly seen: Deferred.Deferred<void> }> = Option
      .none()

    const onNotification = (payload: string) => {
      if (!payload.startsWith(probePrefix)) return wake(payload)
      const awaited = awaitedProbe
      return Option.isSome(awaited) && awaited.value.payload === payload
        ? Deferred.succeed(awaited.value.seen, undefined)
        : Effect.void
    }

    const probeForever = Effect.gen(function*() {
      for (let sequence = 1;; sequence++) {
        yield* Effect.sleep(listenProbeInterval)
        const payload = `${probePrefix}${runnerToken}:${sequence}`
        const seen = yield* Deferred.make<void>()
        awaitedProbe = Option.some({ payload, seen })
        yield* pg`SELECT pg_notify(${deliveryChannel}, ${payload})`
        const arrived = yield* Deferred.await(seen).pipe(Effect.timeoutOption(probeDeadline))
        if (Option.isNone(arrived)) return yield* new ListenConnectionLost({ probe: payload })
      }
    })

    const listenSession = Effect.gen(function*() {
      yield* Effect.logInfo("Listening for queued deliveries").pipe(Effect.annotateLogs({ channel: deliveryChannel }))
      const listening = Stream.runForEach(pg.listen(deliveryChannel), onNotification)
      return yield* Effect.raceFirst(listening, probeForever)
    })

    const listenForever = Effect.gen(function*() {
      let failures = 0
      while (true) {
        const startedAt = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(listenSession)
        const endedAt = yield* Clock.currentTimeMillis
        // A session that lasted a while resets the backoff.
        if (endedAt - startedAt > Duration.toMillis(maxReconnectDelay) * 2) failures = 0
        failures += 1
        const delay = Duration.min(Duration.seconds(2 ** (failures - 1)), maxReconnectDelay)
        yield* Effect.logWarning(
          "Delivery LISTEN connection lost; reconnecting",
          Exit.isFailure(exit) ? exit.cause : Cause.empty
        ).pipe(Effect.annotateLogs({ channel: deliveryChannel, retry_in: Duration.format(delay) }))
        yield* Effect.sleep(delay)
      }
    })

    yield* Effect.forkScoped(listenForever)
  })
)
