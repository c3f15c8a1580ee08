/**
 * The takeover trial shared by `scripts/trial-takeover.ts` and the takeover
 * test. Two socket runners share one database, and events are queued for
 * many subscriptions. One runner is killed with SIGKILL in the middle of
 * delivering them. The trial then compares what a local receiver got with
 * what was queued and what the runners logged.
 */
import { randomInt } from "node:crypto"
import type pg from "pg"
import { type Arrival, startRecordingReceiver } from "./recordingReceiver.ts"
import {
  awaitAllSucceeded,
  awaitShardsSpread,
  connect,
  createSubscribers,
  queueScorecardEvents,
  type Runner,
  startRunner
} from "./runnerCluster.ts"


/** Options of `runTakeoverTrial`. */
export interface TakeoverTrialOptions {
  /** An empty database that both runners migrate and share. */
  readonly databaseUrl: string
  /** Tenants, each with one subscription to the receiver. */
  readonly subscriptions: number
  /** Events in all, spread evenly over the subscriptions; each queues one delivery. */
  readonly events: number
  /** `WEBHOOK_SUBSCRIPTION_CONCURRENCY` of the runners. */
  readonly subscriptionConcurrency: number
  /** The receiver responds 200 after a uniformly random delay from 0 to this many milliseconds. */
  readonly maxResponseDelayMs: number
  /** `WEBHOOK_TIMEOUT` of the runners, such as `1 second`; a dead runner's claims last this plus 10 s. */
  readonly deliveryTimeout?: string
  /** Share of the deliveries, from 0 to 1, that has arrived when one runner is killed. */
  readonly killAtShare: number
  /** Time to wait after the kill for every delivery to be recorded as succeeded, in milliseconds. */
  readonly recoveryTimeoutMs: number
  readonly onProgress?: (line: string) => void
}

/** The observations of one takeover trial. */
export interface TakeoverTrialResult {
  readonly queued: number
  readonly receivedUnique: number
  /** Queued deliveries that the receiver never got. */
  readonly lost: number
  /** Delivery ids that arrived more than once. */
  readonly duplicates: number
  /** Duplicated delivery ids that were not in flight at the kill; 0 unless two runners sent one delivery. */
  readonly duplicatesNotInFlight: number
  /** Requests that arrived before the kill. */
  readonly receivedAtKill: number
  /** Delivery ids that arrived before the kill but have no attempt started before it: sent, never recorded. */
  readonly inFlightAtKill: number
  /** `host:port` of the killed runner and of the survivor. */
  readonly victim: string
  readonly survivor: string
  /** Subscriptions whose last drain before the kill started on the killed runner. */
  readonly victimSubscriptions: number
  /** Those of them that still had a delivery to make at the kill: queued, not yet arrived. */
  readonly victimSubscriptionsWithBacklog: number
  /** Those of them that the survivor drained after the kill. */
  readonly takenOver: number
  /** Those of them that got a delivery from the survivor after the kill. */
  readonly deliveredBySurvivor: number
  /**
   * Milliseconds from the kill until the survivor started a drain of a
   * subscription the killed runner owned, which it can do only once it
   * owns the partition's shard, or NaN when it started none.
   */
  readonly shardTakeoverMs: number
  /**
   * Milliseconds from the kill to the first delivery by the survivor for a
   * subscription the killed runner owned, or NaN when there was none.
   */
  readonly takeoverMs: number
  /** Milliseconds from the kill until every delivery had arrived at least once, or NaN. */
  readonly allReceivedMs: number
  /** Milliseconds from the kill until every delivery was recorded as succeeded, or NaN. */
  readonly allSucceededMs: number
  /** Most requests of one subscription that the receiver held at once. */
  readonly maxInFlightPerSubscription: number
  /**
   * Deliveries whose first arrival came before that of a delivery queued
   * `subscriptionConcurrency` or more places earlier for the same
   * subscription. Deliveries of a subscription start in queue order, so
   * only such a gap shows that rows were sent out of order. Smaller swaps
   * come from requests in flight together.
   */
  readonly outOfOrder: number
  /** Each runner's address and the runner labels of the queue gauges on its `/metrics` before the kill. */
  readonly gaugeLabels: ReadonlyArray<{ readonly runner: string; readonly labels: ReadonlyArray<string> }>
  /** Rows by status when the trial stopped waiting. */
  readonly statuses: Readonly<Record<string, number>>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The subscription id at the end of a `scorecard.finalized:<scorecard_id>:<subscription_id>` delivery id. */
const subscriptionOf = (deliveryId: string) => deliveryId.slice(deliveryId.lastIndexOf(":") + 1)

/** A `Subscription drain started` log line of one runner. */
interface DrainStart {
  readonly runner: number
  readonly subscriptionId: string
  readonly at: number
}

/** Reads a JSON log line of the service and returns the drain start it reports, if it is one. */
const parseDrainStart = (runner: number, line: string): DrainStart | undefined => {
  if (!line.includes("Subscription drain started")) return undefined
  try {
    const entry = JSON.parse(line) as { message?: unknown; timestamp?: unknown; annotations?: Record<string, unknown> }
    const subscriptionId = entry.annotations?.subscription_id
    if (entry.message !== "Subscription drain started" || typeof subscriptionId !== "string") return undefined
    return { runner, subscriptionId, at: Date.parse(String(entry.timestamp)) }
  } catch {
    return undefined
  }
}

/** Returns the runner labels of the `saleslab_webhook_queue_depth` series on a runner's `/metrics`. */
const queueGaugeLabels = async (runner: Runner): Promise<Array<string>> => {
  const response = await fetch(`${runner.baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  return [...text.matchAll(/^saleslab_webhook_queue_depth\{runner="([^"]*)"\}/gm)].map((match) => match[1]!)
}

/** Counts first arrivals that overtook a delivery queued `window` or more places earlier. */
const countOutOfOrder = (
  queueOrder: ReadonlyMap<string, ReadonlyArray<string>>,
  firstArrivals: ReadonlyArray<Arrival>,
  window: number
) => {
  const positions = new Map<string, number>()
  for (const deliveryIds of queueOrder.values()) deliveryIds.forEach((id, position) => positions.set(id, position))
  const arrived = new Map<string, Set<number>>()
  const lowestMissing = new Map<string, number>()
  let outOfOrder = 0
  for (const arrival of firstArrivals) {
    const position = positions.get(arrival.deliveryId)
    if (position === undefined) continue
    const subscriptionId = subscriptionOf(arrival.deliveryId)
    const seen = arrived.get(subscriptionId) ?? new Set<number>()
    arrived.set(subscriptionId, seen)
    let missing = lowestMissing.get(subscriptionId) ?? 0
    if (position - missing >= window) outOfOrder += 1
    seen.add(position)
    while (seen.has(missing)) missing += 1
    lowestMissing.set(subscriptionId, missing)
  }
  return outOfOrder
}

/**
 * Runs one takeover trial: two runners on `databaseUrl`, a receiver on
 * 127.0.0.1, events queued through the outbox from this process, and a
 * SIGKILL of a random runner that owns subscriptions once `killAtShare` of
 * the deliveries has arrived. The runners log at debug level, so that their
 * `Subscription drain started` lines tell which runner worked which
 * subscription. Stops the survivor before it returns.
 */
export const runTakeoverTrial = async (options: TakeoverTrialOptions): Promise<TakeoverTrialResult> => {
  const progress = options.onProgress ?? (() => {})
  const operatorToken = `operator-${crypto.randomUUID()}`
  const env = {
    OPERATOR_TOKEN: operatorToken,
    LOG_LEVEL: "debug",
    WEBHOOK_SUBSCRIPTION_CONCURRENCY: String(options.subscriptionConcurrency),
    // Creating the tenants sends two requests per subscription with one operator token.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_DAY: "1000000",
    ...(options.deliveryTimeout === undefined ? {} : { WEBHOOK_TIMEOUT: options.deliveryTimeout })
  }
  const receiver = await startRecordingReceiver({ maxDelayMs: options.maxResponseDelayMs, inFlightKey: subscriptionOf })
  const drainStarts: Array<DrainStart> = []
  const runners: Array<Runner> = []
  let database: pg.Client | undefined
  try {
    progress("Starting two socket runners on the shared database")
    const started = await Promise.allSettled([0, 1].map((index) =>
      startRunner({
        databaseUrl: options.databaseUrl,
        env,
        onOutputLine: (line) => {
          const start = parseDrainStart(index, line)
          if (start !== undefined) drainStarts.push(start)
        }
      })
    ))
    for (const outcome of started) if (outcome.status === "fulfilled") runners.push(outcome.value)
    const failedStart = started.find((outcome) => outcome.status === "rejected")
    if (failedStart !== undefined) throw failedStart.reason
    await awaitShardsSpread(options.databaseUrl, 2, 30_000)
    const gaugeLabels = await Promise.all(
      runners.map(async (runner) => ({ runner: runner.runnerAddress, labels: await queueGaugeLabels(runner) }))
    )
    progress(`Runners ${runners.map((runner) => runner.runnerAddress).join(" and ")} hold the shards`)

    const subscribers = await createSubscribers({
      baseUrl: runners[0]!.baseUrl,
      operatorToken,
      receiverUrl: receiver.url,
      count: options.subscriptions,
      concurrency: 8
    })
    progress(`Created ${subscribers.length} subscriptions; queueing ${options.events} events through the outbox`)
    // The runners deliver about as fast as the events are queued, so the kill
    // is timed while the queueing goes on. Waiting for the whole burst to be
    // queued first left almost nothing to take over.
    const queueing = queueScorecardEvents({
      databaseUrl: options.databaseUrl,
      subscribers,
      events: options.events,
      transactionSize: 50,
      concurrency: 4
    })
    let queueingEnded = false
    void queueing.finally(() => {
      queueingEnded = true
    }).catch(() => {})

    const killTarget = Math.max(1, Math.floor(options.events * options.killAtShare))
    const killDeadline = Date.now() + options.recoveryTimeoutMs
    while (receiver.arrivals.length < killTarget) {
      // A failed queueing ends the wait at once, with its own error.
      if (queueingEnded) await queueing
      if (Date.now() > killDeadline) {
        throw new Error(
          `Only ${receiver.arrivals.length} of the ${killTarget} deliveries to wait for before the kill arrived ` +
            `within ${options.recoveryTimeoutMs} ms.`
        )
      }
      await sleep(1)
    }
    // The victim is a runner that has worked at least one subscription, so that there is something to take over.
    const owners = new Map<string, number>()
    for (const start of drainStarts) owners.set(start.subscriptionId, start.runner)
    const candidates = [0, 1].filter((index) => [...owners.values()].includes(index))
    const victimIndex = candidates.length === 0 ? randomInt(2) : candidates[randomInt(candidates.length)]!
    const victim = runners[victimIndex]!
    const survivor = runners[1 - victimIndex]!
    await victim.kill(false)
    const killedAt = Date.now()
    const receivedAtKill = receiver.arrivals.length
    progress(`Sent SIGKILL to runner ${victim.runnerAddress} after ${receivedAtKill} of ${options.events} deliveries`)
    const queued = await queueing

    database = await connect(options.databaseUrl)
    const done = await awaitAllSucceeded(database, queued, killedAt + options.recoveryTimeoutMs, (statuses) =>
      progress(`${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill: ${JSON.stringify(statuses)}`))

    const queueRows = await database.query<{ subscription_id: string; delivery_id: string }>(
      "SELECT subscription_id, delivery_id FROM webhook_deliveries ORDER BY id"
    )
    const queueOrder = new Map<string, Array<string>>()
    for (const row of queueRows.rows) {
      const ids = queueOrder.get(row.subscription_id) ?? []
      ids.push(row.delivery_id)
      queueOrder.set(row.subscription_id, ids)
    }
    const recordedBeforeKill = await database.query<{ delivery_id: string }>(
      `SELECT DISTINCT d.delivery_id FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_pk = d.id
       WHERE a.started_at < $1`,
      [new Date(killedAt)]
    )
    const recorded = new Set(recordedBeforeKill.rows.map((row) => row.delivery_id))
    // Ownership at the kill: the runner that last started a drain of the subscription before it.
    const ownerAtKill = new Map<string, number>()
    for (const start of [...drainStarts].sort((a, b) => a.at - b.at)) {
      if (start.at <= killedAt) ownerAtKill.set(start.subscriptionId, start.runner)
    }
    const victimSubscriptions = new Set([...ownerAtKill].filter(([, runner]) => runner === victimIndex).map(([id]) => id))
    const survivorStartedAt = new Map<string, number>()
    for (const start of drainStarts) {
      if (start.runner !== victimIndex && start.at > killedAt && !survivorStartedAt.has(start.subscriptionId)) {
        survivorStartedAt.set(start.subscriptionId, start.at)
      }
    }
    // The receiver in this process may read the killed runner's last requests up to 750 ms after the kill
    // on a loaded machine. A survivor's request arrives only after its drain started, so earlier ones are the killed runner's.
    const sentBeforeKill = receiver.arrivals.filter((arrival, index) => {
      if (index < receivedAtKill) return true
      const subscriptionId = subscriptionOf(arrival.deliveryId)
      return victimSubscriptions.has(subscriptionId) &&
        arrival.at < (survivorStartedAt.get(subscriptionId) ?? Number.POSITIVE_INFINITY)
    })
    const receivedBeforeKill = new Set(sentBeforeKill.map((arrival) => arrival.deliveryId))
    const inFlight = new Set([...receivedBeforeKill].filter((id) => !recorded.has(id)))

    const timesReceived = new Map<string, number>()
    const firstArrivals: Array<Arrival> = []
    for (const arrival of receiver.arrivals) {
      const count = timesReceived.get(arrival.deliveryId) ?? 0
      if (count === 0) firstArrivals.push(arrival)
      timesReceived.set(arrival.deliveryId, count + 1)
    }
    const duplicated = [...timesReceived].filter(([, count]) => count > 1).map(([id]) => id)
    const queuedIds = queueRows.rows.map((row) => row.delivery_id)

    // A request counts for the survivor once it has started a drain of the subscription, which
    // leaves out requests that the killed runner wrote just before it died.
    const survivorDeliveries = receiver.arrivals.filter((arrival) => {
      const subscriptionId = subscriptionOf(arrival.deliveryId)
      const startedAt = survivorStartedAt.get(subscriptionId)
      return victimSubscriptions.has(subscriptionId) && startedAt !== undefined && arrival.at >= startedAt
    })
    const withBacklog = [...victimSubscriptions].filter((id) =>
      (queueOrder.get(id) ?? []).some((deliveryId) => !receivedBeforeKill.has(deliveryId))
    )
    const firstTakeoverStart = [...victimSubscriptions].reduce(
      (first, id) => Math.min(first, survivorStartedAt.get(id) ?? Number.POSITIVE_INFINITY),
      Number.POSITIVE_INFINITY
    )
    const takeoverMs = survivorDeliveries.reduce((first, arrival) => Math.min(first, arrival.at - killedAt), Number.POSITIVE_INFINITY)
    const lastFirstArrival = firstArrivals.reduce((last, arrival) => Math.max(last, arrival.at), Number.NEGATIVE_INFINITY)

    return {
      queued,
      receivedUnique: timesReceived.size,
      lost: queuedIds.filter((id) => !timesReceived.has(id)).length,
      duplicates: duplicated.length,
      duplicatesNotInFlight: duplicated.filter((id) => !inFlight.has(id)).length,
      receivedAtKill,
      inFlightAtKill: inFlight.size,
      victim: victim.runnerAddress,
      survivor: survivor.runnerAddress,
      victimSubscriptions: victimSubscriptions.size,
      victimSubscriptionsWithBacklog: withBacklog.length,
      takenOver: [...victimSubscriptions].filter((id) => survivorStartedAt.has(id)).length,
      deliveredBySurvivor: new Set(survivorDeliveries.map((arrival) => subscriptionOf(arrival.deliveryId))).size,
      shardTakeoverMs: Number.isFinite(firstTakeoverStart) ? firstTakeoverStart - killedAt : Number.NaN,
      takeoverMs: Number.isFinite(takeoverMs) ? takeoverMs : Number.NaN,
      allReceivedMs: timesReceived.size === queuedIds.length ? lastFirstArrival - killedAt : Number.NaN,
      allSucceededMs: done.at - killedAt,
      maxInFlightPerSubscription: receiver.maxInFlightPerKey(),
      outOfOrder: countOutOfOrder(queueOrder, firstArrivals, options.subscriptionConcurrency),
      gaugeLabels,
      statuses: done.statuses
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const outputs = runners.map((runner) => `Last output of runner ${runner.runnerAddress}:\n${runner.recentOutput()}`)
    throw new Error([message, ...outputs].join("\n"))
  } finally {
    await database?.end().catch(() => {})
    await Promise.all(runners.map((runner) => runner.stopAndClean()))
    await receiver.close()
  }
}
