import { PgClient } from "@effect/sql-pg"
import { Cause, Clock, Data, Deferred, Duration, Effect, Exit, Layer, Metric, Option, Queue, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import pg from "pg"
import { AppConfig } from "../platform/AppConfig.ts"
import { webhookListenNotifications } from "../platform/Metrics.ts"
import {
  makeBackgroundWaker,
  makeChangeNotifier,
  makeEntityLocator,
  makeOwnershipCheck,
  makePassRequester,
  RunningDrains
} from "./DeliveryPartition.ts"
import { DeliveryChannel } from "./DeliveryChannel.ts"
import { subscriptionChangePrefix } from "./Outbox.ts"
import { Sweeper } from "./Sweeper.ts"

/** Payload prefix of probe notifications. Subscription ids start with `sub_`, so they never match it. */
const probePrefix = "probe:"

/** Time a probe notification may take to come back before the connection is deemed lost. */
const probeDeadline = Duration.seconds(5)

/** Time a new LISTEN connection may take to connect before the attempt fails. */
const connectTimeout = Duration.seconds(5)

/** Delay before the first reconnection attempt. It doubles after each failed attempt, up to `maxReconnectDelay`. */
const firstReconnectDelay = Duration.millis(200)

/**
 * Maximum delay between two reconnection attempts. While PostgreSQL is
 * down each attempt fails at once, so a short cap costs little and bounds
 * how long notifications stay lost after the server is back.
 */
const maxReconnectDelay = Duration.seconds(2)

/** A LISTEN session that ran at least this long resets the reconnection backoff. */
const backoffResetAfter = Duration.seconds(10)

/** Consecutive failed sessions that are each logged as a warning. Later failures log one warning in every `repeatLogEvery`. */
const warnedFailures = 3
const repeatLogEvery = 15

/** The LISTEN connection failed, ended, or lost a probe notification. */
class ListenConnectionLost extends Data.TaggedError("ListenConnectionLost")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `The delivery LISTEN connection was lost: ${this.reason}.`
  }
}

/** SQLSTATE with which PostgreSQL ends a session at its shutdown or for `pg_terminate_backend` (`admin_shutdown`). */
const adminShutdownCode = "57P01"

/** Whether PostgreSQL ended the LISTEN session itself: at its shutdown, or by `pg_terminate_backend`. */
const endedByServer = (cause: Cause.Cause<ListenConnectionLost>) =>
  Option.exists(Cause.failureOption(cause), (lost) => (lost.cause as { code?: unknown } | undefined)?.code === adminShutdownCode)

/** node-postgres options for one connection to the server of `config`, which `PgClient.make` completed from its URL. */
const connectionOptions = (config: PgClient.PgClientConfig): pg.ClientConfig => {
  const options: pg.ClientConfig = { connectionTimeoutMillis: Duration.toMillis(connectTimeout) }
  if (config.url !== undefined) options.connectionString = Redacted.value(config.url)
  if (config.host !== undefined) options.host = config.host
  if (config.port !== undefined) options.port = config.port
  if (config.database !== undefined) options.database = config.database
  if (config.username !== undefined) options.user = config.username
  if (config.password !== undefined) options.password = Redacted.value(config.password)
  if (config.ssl !== undefined) options.ssl = config.ssl
  if (config.applicationName !== undefined) options.application_name = config.applicationName
  return options
}

/**
 * Listens on the delivery channel and wakes the entity of the
 * subscription named by each notification, when that entity runs on this
 * runner (`makeOwnershipCheck`). With socket runners every runner listens
 * and receives every notification, so each one wakes only the entities of
 * the shards it holds: a subscription is woken once, on the runner that
 * works it, without a hop over the runner socket. A notification that
 * arrives while no runner owns the shard, such as during a takeover, is
 * dropped, and the sweeper wakes that subscription. Wake-ups run in
 * background fibers, so no notification waits for an entity.
 *
 * The LISTEN connection is a node-postgres client of its own, because the
 * connection behind `PgClient.listen` (@effect/sql-pg 0.53) ignores
 * connection errors. When PostgreSQL restarts or ends the backend, this
 * client reports the error or the end at once. The dispatcher then
 * reconnects after `firstReconnectDelay`, doubling up to
 * `maxReconnectDelay`. A connection that dies silently, such as behind a
 * dropped network path, shows only as a lost probe. So the dispatcher also
 * sends itself a probe notification every `AppConfig.listenProbeInterval`
 * and reconnects when one does not come back within `probeDeadline`.
 *
 * Notifications sent while no connection listens are lost. After every
 * LISTEN, the first one included, the dispatcher runs one sweep, so
 * subscriptions whose deliveries were queued in that gap, or whose drains
 * failed while the database was unreachable, are woken without waiting for
 * the sweeper.
 */
export const DispatcherLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const pgClient = yield* PgClient.PgClient
    const { name: deliveryChannel } = yield* DeliveryChannel
    const wake = yield* makeBackgroundWaker
    const ownsSubscription = yield* makeOwnershipCheck
    const locate = yield* makeEntityLocator
    const drains = yield* RunningDrains
    const requestPass = makePassRequester(locate, drains)
    const notifyChange = makeChangeNotifier(locate, drains)
    const sweeper = yield* Sweeper
    const { listenProbeInterval } = yield* AppConfig
    const runnerToken = randomUUID()
    const layerScope = yield* Effect.scope

    let awaitedProbe: Option.Option<{ readonly payload: string; readonly seen: Deferred.Deferred<void> }> = Option
      .none()
    let listenedBefore = false

    // Wakes are started one at a time from this queue, away from the
    // connection's events and the probes, each in a background fiber.
    // Notifications queued meanwhile are taken together, and each subscription
    // among them is woken once: after a pause, such as a long stretch with
    // the database busy, thousands of them can name the same few subscriptions.
    const wakes = yield* Queue.unbounded<string>()
    yield* Queue.takeBetween(wakes, 1, Number.MAX_SAFE_INTEGER).pipe(
      Effect.flatMap((notified) =>
        Effect.suspend(() => {
          const owned = Array.from(notified).filter(ownsSubscription)
          return Effect.zipRight(
            Metric.incrementBy(webhookListenNotifications, owned.length),
            Effect.forEach(new Set(owned), wake, { discard: true })
          )
        })
      ),
      Effect.forever,
      Effect.forkScoped
    )

    // Under a backlog, nearly every notification finds its subscription's
    // drain running here, and requests its next pass in place, without the
    // queue and its fiber.
    const onNotification = (payload: string) => {
      if (payload.startsWith(subscriptionChangePrefix)) {
        notifyChange(payload.slice(subscriptionChangePrefix.length))
        return
      }
      if (!payload.startsWith(probePrefix)) {
        if (requestPass(payload)) {
          webhookListenNotifications.unsafeUpdate(1, [])
        } else {
          Queue.unsafeOffer(wakes, payload)
        }
        return
      }
      const awaited = awaitedProbe
      if (Option.isSome(awaited) && awaited.value.payload === payload) Deferred.unsafeDone(awaited.value.seen, Exit.void)
    }

    const probeForever = Effect.gen(function*() {
      for (let sequence = 1;; sequence++) {
        yield* Effect.sleep(listenProbeInterval)
        const payload = `${probePrefix}${runnerToken}:${sequence}`
        const seen = yield* Deferred.make<void>()
        awaitedProbe = Option.some({ payload, seen })
        yield* pgClient`SELECT pg_notify(${deliveryChannel}, ${payload})`.pipe(
          Effect.mapError((cause) => new ListenConnectionLost({ reason: "the probe notification could not be sent", cause }))
        )
        const arrived = yield* Deferred.await(seen).pipe(Effect.timeoutOption(probeDeadline))
        if (Option.isNone(arrived)) {
          return yield* new ListenConnectionLost({
            reason: `the probe notification ${payload} did not arrive within ${Duration.format(probeDeadline)}`
          })
        }
      }
    })

    /** Connects, listens, and runs until the connection fails, ends or loses a probe. */
    const listenSession = Effect.gen(function*() {
      const lost = yield* Deferred.make<never, ListenConnectionLost>()
      const client = new pg.Client(connectionOptions(pgClient.config))
      client.on("error", (cause) => Deferred.unsafeDone(lost, Exit.fail(new ListenConnectionLost({ reason: "connection error", cause }))))
      client.on("end", () => Deferred.unsafeDone(lost, Exit.fail(new ListenConnectionLost({ reason: "the connection ended" }))))
      client.on("notification", (message) => {
        if (message.channel === deliveryChannel && message.payload !== undefined) onNotification(message.payload)
      })
      yield* Effect.addFinalizer(() =>
        Effect.tryPromise(() => client.end()).pipe(Effect.timeoutOption("1 second"), Effect.ignore)
      )
      yield* Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new ListenConnectionLost({ reason: "connecting failed", cause })
      })
      yield* Effect.tryPromise({
        try: () => client.query(`LISTEN ${client.escapeIdentifier(deliveryChannel)}`),
        catch: (cause) => new ListenConnectionLost({ reason: "LISTEN failed", cause })
      })
      yield* Effect.logInfo("Listening for queued deliveries")

      // Notifications sent before this LISTEN are lost. So one sweep follows
      // every LISTEN: after a reconnection, and also after the first one,
      // because the sweeper's first sweep can run before deliveries that were
      // queued while this connection was being opened.
      const reconnected = listenedBefore
      listenedBefore = true
      yield* sweeper.sweep.pipe(
        Effect.tap((woken) =>
          reconnected
            ? Effect.logInfo("Swept after the LISTEN connection came back").pipe(Effect.annotateLogs({ subscriptions: woken }))
            : Effect.logDebug("Swept after the first LISTEN").pipe(Effect.annotateLogs({ subscriptions: woken }))
        ),
        Effect.catchAllCause((cause) => Effect.logWarning("Sweeping after the LISTEN connection was opened failed", cause)),
        Effect.forkIn(layerScope)
      )

      return yield* Effect.raceFirst(Deferred.await(lost), probeForever)
    }).pipe(Effect.scoped)

    const listenForever = Effect.gen(function*() {
      let failures = 0
      while (true) {
        const startedAt = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(listenSession)
        const endedAt = yield* Clock.currentTimeMillis
        if (endedAt - startedAt >= Duration.toMillis(backoffResetAfter)) failures = 0
        failures += 1
        const delay = Duration.min(Duration.times(firstReconnectDelay, 2 ** (failures - 1)), maxReconnectDelay)

        const annotations = { attempt: failures, retry_in: Duration.format(delay) }
        if (Exit.isFailure(exit) && endedByServer(exit.cause)) {
          // Expected when PostgreSQL stops or restarts, so one line without a stack trace is enough.
          yield* Effect.logInfo("PostgreSQL ended the delivery LISTEN session, as at its shutdown or by an administrator; reconnecting").pipe(
            Effect.annotateLogs(annotations)
          )
        } else {
          const log = failures <= warnedFailures || failures % repeatLogEvery === 0 ? Effect.logWarning : Effect.logDebug
          yield* log("Delivery LISTEN connection lost; reconnecting", ...(Exit.isFailure(exit) ? [exit.cause] : [])).pipe(
            Effect.annotateLogs(annotations)
          )
        }
        yield* Effect.sleep(delay)
      }
    })

    yield* Effect.forkScoped(listenForever)
  })
)
