/**
 * The PostgreSQL restart trial of `scripts/trial-pg-restart.ts`. The service
 * runs as a child process on an embedded PostgreSQL that the trial owns. The
 * trial shuts that server down in fast mode and starts it again on the same
 * port, either while a burst of deliveries flows or while nothing is queued.
 * It then times how the service recovers, and compares what the receiver
 * received with what was queued.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import pg from "pg"
import { Outbox } from "../../src/webhooks/Outbox.ts"
import { ApiClient, createCompany } from "./api.ts"
import { type ReceivedDelivery, startReceiver } from "./receiver.ts"
import { type RestartablePostgres, startRestartablePostgres } from "./restartablePostgres.ts"
import { type RunningService, startService } from "./service.ts"

/** When the trial restarts PostgreSQL. */
export type RestartMode =
  /** While a burst of deliveries flows. */
  | "busy"
  /** After a first burst has been delivered and recorded, with nothing queued. A second burst follows. */
  | "idle"

/** Options of `runPgRestartTrial`. */
export interface PgRestartTrialOptions {
  readonly mode: RestartMode
  /** Deliveries in each burst. */
  readonly events: number
  /** Subscriptions the bursts are spread over, round robin. */
  readonly subscriptions: number
  /** `WEBHOOK_SUBSCRIPTION_CONCURRENCY` of the service. */
  readonly subscriptionConcurrency: number
  /** Time PostgreSQL stays stopped between the end of its shutdown and the next start, in milliseconds. */
  readonly downMs: number
  /** Busy mode: share of the burst, from 0 to 1, that has reached the receiver when the shutdown starts. */
  readonly restartAfterShare: number
  /** Idle mode: time from PostgreSQL accepting connections again to queueing the second burst, in milliseconds. */
  readonly burstDelayMs: number
  /** Time to wait for every delivery to be recorded as succeeded after the restart, in milliseconds. */
  readonly timeoutMs: number
  /** `LOG_LEVEL` of the service. */
  readonly serviceLogLevel: string
  /** Called with each line the service writes to stdout or stderr. */
  readonly onServiceOutput?: (line: string) => void
  readonly onProgress?: (line: string) => void
}

/** Mechanism that woke the subscriptions after the restart, read from the service's counters in `GET /metrics`. */
export type WakeMechanism = "LISTEN notification" | "sweep" | "a drain still running" | "unknown"

/** Counts and timings observed by one trial. Times are in milliseconds, and NaN means the event was never observed. */
export interface PgRestartTrialResult {
  readonly queued: number
  readonly receivedUnique: number
  /** Queued delivery ids the receiver never received. */
  readonly lost: number
  /** Delivery ids the receiver received more than once. */
  readonly duplicates: number
  /** Requests the receiver received in all, duplicates included. */
  readonly requests: number
  /**
   * Delivery ids that reached the receiver before PostgreSQL accepted
   * connections again but had no attempt row when it did: attempts sent
   * before or during the outage whose record was not yet written.
   */
  readonly inFlightAtRestart: number
  /** Pending rows under a live claim when PostgreSQL accepted connections again. */
  readonly claimedAtRestart: number
  /** Deliveries per second before the restart, the reference for `rateRecoveredMs`. */
  readonly baselineRate: number
  /** Time the fast shutdown took, from SIGINT until the server process exited. */
  readonly shutdownMs: number
  /** Time from the start of the shutdown until PostgreSQL accepted connections again. */
  readonly outageMs: number
  /** Whether `/readyz` returned anything other than 200 while PostgreSQL was down. */
  readonly notReadySeen: boolean
  /** From PostgreSQL accepting connections again until `/readyz` returned 200. */
  readonly readyMs: number
  /** From PostgreSQL accepting connections again until a backend listened on the delivery channel. */
  readonly listenMs: number
  /** Idle mode: from PostgreSQL accepting connections again until the first transaction of the second burst committed. */
  readonly burstQueuedMs: number
  /**
   * From PostgreSQL accepting connections again (busy mode), or from the
   * commit of the second burst's first transaction (idle mode), until the
   * first delivery arrived.
   */
  readonly firstDeliveryMs: number
  /**
   * From the same reference as `firstDeliveryMs` until the end of the first
   * 1 second window, wholly after that reference, in which at least 75 % of
   * `baselineRate` arrived.
   */
  readonly rateRecoveredMs: number
  /**
   * Idle mode: the same two times for the first burst, measured from its
   * first commit, as the baseline of this run. NaN in busy mode.
   */
  readonly firstBurstFirstDeliveryMs: number
  readonly firstBurstRateReachedMs: number
  /** Mechanism that woke the subscriptions for that first delivery. */
  readonly wokenBy: WakeMechanism
  /** From PostgreSQL accepting connections again until every delivery was recorded as succeeded. */
  readonly allSucceededMs: number
  /** Rows by status once the trial stopped waiting. */
  readonly statuses: Readonly<Record<string, number>>
}

/** Share of the baseline rate that counts as delivering at the earlier rate again. */
export const recoveredRateShare = 0.75

/** Width of the window over which the rate after the restart is counted, in milliseconds. */
const rateWindowMs = 1_000

/** Deliveries queued by one transaction. */
const queueChunkSize = 500

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The two counters of `GET /metrics` that tell which mechanism woke a subscription. */
interface WakeCounters {
  readonly notifications: number | undefined
  readonly sweepWakes: number | undefined
}

const notificationsSeries = "saleslab_webhook_listen_notifications_total"
const sweepWakesSeries = "saleslab_webhook_sweep_woken_subscriptions_total"

const sampleOf = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const readWakeCounters = async (baseUrl: string): Promise<WakeCounters> => {
  const text = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.text())
  return { notifications: sampleOf(text, notificationsSeries), sweepWakes: sampleOf(text, sweepWakesSeries) }
}

const wakeMechanism = (before: WakeCounters, after: WakeCounters): WakeMechanism => {
  if (before.notifications !== undefined && after.notifications !== undefined && after.notifications > before.notifications) {
    return "LISTEN notification"
  }
  if (before.sweepWakes !== undefined && after.sweepWakes !== undefined && after.sweepWakes > before.sweepWakes) {
    return "sweep"
  }
  if (before.notifications !== undefined && before.sweepWakes !== undefined) return "a drain still running"
  return "unknown"
}

/** Samples of `/readyz`, taken every 100 ms until `stop` is called. */
const pollReadiness = (baseUrl: string) => {
  const samples: Array<{ readonly at: number; readonly ok: boolean }> = []
  let running = true
  const loop = (async () => {
    while (running) {
      const ok = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(3_000) }).then(
        async (response) => {
          await response.text()
          return response.ok
        },
        () => false
      )
      samples.push({ at: performance.now(), ok })
      await sleep(100)
    }
  })()
  return {
    samples,
    stop: async () => {
      running = false
      await loop
    }
  }
}

/** Connects a client of the trial's own to the database, for reading rows and server state. */
const connectMonitor = async (url: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url })
  // The restart ends this connection; the trial connects again afterwards.
  client.on("error", () => {})
  await client.connect()
  return client
}

/** Deliveries per second in the arrivals between `from` and `to` (`performance.now()` times). */
const rateBetween = (arrivals: ReadonlyArray<ReceivedDelivery>, from: number, to: number): number => {
  const count = arrivals.filter((arrival) => arrival.receivedAt >= from && arrival.receivedAt < to).length
  return to > from ? (count * 1000) / (to - from) : Number.NaN
}

/**
 * Returns the time, after `reference`, at which the first window of
 * `rateWindowMs` lying wholly after `reference` held at least
 * `recoveredRateShare` of `baselineRate`, or NaN when none did.
 */
const rateRecoveredAt = (arrivals: ReadonlyArray<ReceivedDelivery>, reference: number, baselineRate: number): number => {
  const times = arrivals.map((arrival) => arrival.receivedAt).filter((at) => at > reference).sort((a, b) => a - b)
  const needed = Math.max(1, Math.ceil((baselineRate * recoveredRateShare * rateWindowMs) / 1000))
  let windowStart = 0
  for (let index = 0; index < times.length; index++) {
    const end = times[index]!
    if (end - reference < rateWindowMs) continue
    while (times[windowStart]! <= end - rateWindowMs) windowStart++
    if (index - windowStart + 1 >= needed) return end - reference
  }
  return Number.NaN
}

/** The `Outbox` service on a small pool of the trial's own, through which the trial queues its bursts. */
const makeQueueRuntime = (databaseUrl: string) =>
  ManagedRuntime.make(
    Outbox.Default.pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 2 })))
  )

interface TrialSubscription {
  readonly id: string
  readonly companyId: string
}

/**
 * Runs one trial: a PostgreSQL of its own in a temporary folder, the
 * service on it, one tenant with `subscriptions` subscriptions to a receiver,
 * and bursts queued through the `Outbox` service. All traffic stays on
 * 127.0.0.1, and the folder is removed at the end.
 */
export const runPgRestartTrial = async (options: PgRestartTrialOptions): Promise<PgRestartTrialResult> => {
  const progress = options.onProgress ?? (() => {})
  const operatorToken = `operator-${crypto.randomUUID()}`
  let postgres: RestartablePostgres | undefined
  let service: RunningService | undefined
  let runtime: ReturnType<typeof makeQueueRuntime> | undefined
  let monitor: pg.Client | undefined
  let readiness: ReturnType<typeof pollReadiness> | undefined

  // Called for each arrival while the trial waits for the first delivery after a reference time.
  let onArrival: ((delivery: ReceivedDelivery) => void) | undefined
  const receiver = await startReceiver((delivery) => onArrival?.(delivery))

  try {
    progress("Starting an embedded PostgreSQL")
    postgres = await startRestartablePostgres()
    const databaseUrl = postgres.url

    progress(`Starting the service on PostgreSQL port ${postgres.port}`)
    service = await startService({
      runtime: "node",
      databaseUrl,
      env: {
        OPERATOR_TOKEN: operatorToken,
        LOG_LEVEL: options.serviceLogLevel,
        WEBHOOK_SUBSCRIPTION_CONCURRENCY: String(options.subscriptionConcurrency)
      },
      ...(options.onServiceOutput === undefined ? {} : { onOutputLine: options.onServiceOutput })
    })
    const baseUrl = service.baseUrl

    const company = await createCompany(baseUrl, operatorToken, `Restart Trial ${crypto.randomUUID().slice(0, 8)}`)
    const api = new ApiClient(baseUrl, company.adminToken)
    const subscriptions: Array<TrialSubscription> = []
    for (let index = 0; index < options.subscriptions; index++) {
      const created = await api.request<{ id: string; secret: string }>("POST", "/v1/webhooks", 201, {
        url: receiver.url,
        event_kinds: [],
        description: `Restart trial receiver ${index + 1}`
      })
      receiver.addSecret(created.secret)
      subscriptions.push({ id: created.id, companyId: company.companyId })
    }

    runtime = makeQueueRuntime(databaseUrl)
    const queued: Array<string> = []

    /**
     * Queues `count` deliveries through `Outbox.enqueue`, `queueChunkSize` per
     * transaction, and returns the `performance.now()` time at which the first
     * transaction committed.
     */
    const queueBurst = async (burst: number, count: number): Promise<number> => {
      let firstCommit = Number.NaN
      for (let start = 0; start < count; start += queueChunkSize) {
        const size = Math.min(queueChunkSize, count - start)
        const ids = await runtime!.runPromise(
          Effect.gen(function*() {
            const outbox = yield* Outbox
            const sql = yield* SqlClient.SqlClient
            return yield* Effect.forEach(Array.from({ length: size }, (_, offset) => start + offset), (sequence) => {
              const subscription = subscriptions[sequence % subscriptions.length]!
              const deliveryId = `trial.pg_restart:${crypto.randomUUID()}:${subscription.id}`
              return outbox.enqueue({
                subscriptionId: subscription.id,
                companyId: subscription.companyId,
                kind: "session.scorecard_finalized",
                deliveryId,
                payload: {
                  event_kind: "session.scorecard_finalized",
                  company_id: subscription.companyId,
                  trial: "pg-restart",
                  burst,
                  sequence,
                  delivery_id: deliveryId
                }
              }).pipe(Effect.as(deliveryId))
            }).pipe(sql.withTransaction)
          })
        )
        if (Number.isNaN(firstCommit)) firstCommit = performance.now()
        queued.push(...ids)
      }
      return firstCommit
    }

    const countStatuses = async (client: pg.Client) => {
      const result = await client.query<{ status: string; count: number }>(
        "SELECT status, count(*)::int AS count FROM webhook_deliveries GROUP BY status"
      )
      return Object.fromEntries(result.rows.map((row) => [row.status, row.count])) as Record<string, number>
    }

    /** Waits until `expected` rows are succeeded, polling every 250 ms, and returns the statuses last read. */
    const awaitSucceeded = async (client: pg.Client, expected: number, deadline: number) => {
      let statuses = await countStatuses(client)
      while ((statuses.succeeded ?? 0) < expected && performance.now() < deadline) {
        await sleep(250)
        statuses = await countStatuses(client)
      }
      return statuses
    }

    /** Resolves with the `performance.now()` time of the first arrival after `reference` and the counters read then. */
    const firstArrivalAfter = (reference: number, timeoutMs: number) =>
      new Promise<{ readonly at: number; readonly counters: WakeCounters } | undefined>((resolve) => {
        const settle = (at: number) => {
          onArrival = undefined
          clearTimeout(timer)
          readWakeCounters(baseUrl).then(
            (counters) => resolve({ at, counters }),
            () => resolve({ at, counters: { notifications: undefined, sweepWakes: undefined } })
          )
        }
        const timer = setTimeout(() => {
          onArrival = undefined
          resolve(undefined)
        }, timeoutMs)
        const earlier = receiver.deliveries.find((delivery) => delivery.receivedAt > reference)
        if (earlier !== undefined) return settle(earlier.receivedAt)
        onArrival = (delivery) => {
          if (delivery.receivedAt > reference) settle(delivery.receivedAt)
        }
      })

    monitor = await connectMonitor(databaseUrl)
    readiness = pollReadiness(baseUrl)
    const deadlineAfter = (ms: number) => performance.now() + ms

    // --- Before the restart ---
    let baselineRate = Number.NaN
    let firstBurstFirstDeliveryMs = Number.NaN
    let firstBurstRateReachedMs = Number.NaN
    if (options.mode === "busy") {
      const target = Math.max(1, Math.floor(options.events * options.restartAfterShare))
      // The engine delivers faster than the burst can be queued, so with the
      // service running, nearly the whole burst had arrived before the
      // restart. The service is held (SIGSTOP) while the burst is queued,
      // and the restart then comes in the middle of its drain.
      progress(`Queueing ${options.events} deliveries over ${subscriptions.length} subscriptions, with the service held`)
      service.hold()
      try {
        await queueBurst(1, options.events)
      } finally {
        service.resume()
      }
      progress(`Queued and resumed the service. Restarting PostgreSQL after ${target} deliveries`)
      while (receiver.deliveries.length < target) await sleep(1)
    } else {
      progress(`Queueing a first burst of ${options.events} deliveries over ${subscriptions.length} subscriptions`)
      const firstBurstCommit = await queueBurst(1, options.events)
      const statuses = await awaitSucceeded(monitor, options.events, deadlineAfter(options.timeoutMs))
      if ((statuses.succeeded ?? 0) < options.events) {
        throw new Error(`The first burst was not delivered within ${options.timeoutMs} ms: ${JSON.stringify(statuses)}`)
      }
      const times = receiver.deliveries.map((delivery) => delivery.receivedAt).sort((a, b) => a - b)
      baselineRate = rateBetween(
        receiver.deliveries,
        times[Math.floor(times.length * 0.1)]!,
        times[Math.floor(times.length * 0.9)]!
      )
      firstBurstFirstDeliveryMs = Math.max(0, times[0]! - firstBurstCommit)
      firstBurstRateReachedMs = rateRecoveredAt(receiver.deliveries, firstBurstCommit, baselineRate)
      progress(`First burst delivered and recorded at ${baselineRate.toFixed(0)} per second; restarting PostgreSQL while idle`)
    }

    // --- The restart ---
    const stopBegan = performance.now()
    if (options.mode === "busy") {
      baselineRate = rateBetween(receiver.deliveries, Math.max(stopBegan - 3_000, receiver.deliveries[0]!.receivedAt), stopBegan)
    }
    await monitor.end().catch(() => {})
    monitor = undefined
    await postgres.stopFast()
    const stopped = performance.now()
    progress(`PostgreSQL stopped in fast mode after ${(stopped - stopBegan).toFixed(0)} ms; starting it in ${options.downMs} ms`)
    await sleep(options.downMs)
    await postgres.start()
    const accepting = performance.now()
    progress(`PostgreSQL accepts connections again, ${(accepting - stopBegan).toFixed(0)} ms after the shutdown began`)

    monitor = await connectMonitor(databaseUrl)
    // Read first, before the service writes the records it kept retrying.
    const recordedAtAccept = await monitor.query<{ delivery_id: string }>(
      "SELECT DISTINCT d.delivery_id FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_pk = d.id"
    )
    const claimed = await monitor.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM webhook_deliveries WHERE status = 'pending' AND claimed_until > now()"
    )
    const claimedAtRestart = claimed.rows[0]?.count ?? 0
    const countersAtAccept = await readWakeCounters(baseUrl)

    // The first backend that listens on the delivery channel after the restart.
    const listening = (async () => {
      const deadline = deadlineAfter(options.timeoutMs)
      while (performance.now() < deadline) {
        const rows = await monitor!.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM pg_stat_activity
           WHERE pid <> pg_backend_pid() AND query ILIKE 'LISTEN%webhook_deliveries%'`
        )
        if ((rows.rows[0]?.count ?? 0) > 0) return performance.now() - accepting
        await sleep(50)
      }
      return Number.NaN
    })()

    // --- After the restart ---
    let burstQueuedMs = Number.NaN
    let reference = accepting
    let countersAtReference = countersAtAccept
    let first: Awaited<ReturnType<typeof firstArrivalAfter>>
    if (options.mode === "idle") {
      await sleep(Math.max(0, accepting + options.burstDelayMs - performance.now()))
      countersAtReference = await readWakeCounters(baseUrl)
      progress(`Queueing a second burst of ${options.events} deliveries`)
      // No delivery of the second burst can arrive before its first transaction commits.
      const firstArrival = firstArrivalAfter(performance.now(), options.timeoutMs)
      reference = await queueBurst(2, options.events)
      burstQueuedMs = reference - accepting
      first = await firstArrival
    } else {
      first = await firstArrivalAfter(accepting, options.timeoutMs)
    }
    const firstDeliveryMs = first === undefined ? Number.NaN : Math.max(0, first.at - reference)
    const wokenBy = first === undefined ? "unknown" : wakeMechanism(countersAtReference, first.counters)
    progress(`First delivery after the restart arrived; waiting until all ${queued.length} are recorded as succeeded`)

    const statuses = await awaitSucceeded(monitor, queued.length, deadlineAfter(options.timeoutMs))
    const allSucceededMs = (statuses.succeeded ?? 0) >= queued.length ? performance.now() - accepting : Number.NaN
    const listenMs = await listening
    await readiness.stop()

    // --- Counting ---
    const readyAfter = readiness.samples.find((sample) => sample.at > accepting && sample.ok)
    const notReadySeen = readiness.samples.some((sample) => sample.at > stopBegan && sample.at <= accepting && !sample.ok)
    const rateRecoveredMs = rateRecoveredAt(receiver.deliveries, reference, baselineRate)

    const recorded = new Set(recordedAtAccept.rows.map((row) => row.delivery_id))
    const receivedBeforeAccepting = new Set(
      receiver.deliveries.filter((delivery) => delivery.receivedAt < accepting).map((delivery) => delivery.deliveryId)
    )
    const inFlightAtRestart = [...receivedBeforeAccepting].filter((deliveryId) => !recorded.has(deliveryId)).length

    const timesReceived = new Map<string, number>()
    for (const delivery of receiver.deliveries) {
      timesReceived.set(delivery.deliveryId, (timesReceived.get(delivery.deliveryId) ?? 0) + 1)
    }
    const invalid = receiver.deliveries.filter((delivery) => !delivery.signatureValid).length
    if (invalid > 0) throw new Error(`${invalid} deliveries arrived with an invalid signature.`)

    return {
      queued: queued.length,
      receivedUnique: timesReceived.size,
      lost: queued.filter((deliveryId) => !timesReceived.has(deliveryId)).length,
      duplicates: [...timesReceived.values()].filter((count) => count > 1).length,
      requests: receiver.deliveries.length,
      inFlightAtRestart,
      claimedAtRestart,
      baselineRate: baselineRate,
      shutdownMs: stopped - stopBegan,
      outageMs: accepting - stopBegan,
      notReadySeen,
      readyMs: readyAfter === undefined ? Number.NaN : readyAfter.at - accepting,
      listenMs,
      burstQueuedMs,
      firstDeliveryMs,
      rateRecoveredMs,
      firstBurstFirstDeliveryMs,
      firstBurstRateReachedMs,
      wokenBy,
      allSucceededMs,
      statuses
    }
  } catch (error) {
    if (service !== undefined) {
      const message = error instanceof Error ? error.message : String(error)
      throw new Error(`${message}\nLast service output:\n${service.recentOutput()}`)
    }
    throw error
  } finally {
    await readiness?.stop()
    await monitor?.end().catch(() => {})
    await runtime?.dispose().catch(() => {})
    await service?.stop()
    await receiver.close()
    await postgres?.remove()
  }
}
