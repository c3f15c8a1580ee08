/**
 * The crash trial shared by `scripts/trial-crash.ts` and the crash recovery
 * test: queue test deliveries to one subscription, SIGKILL the service in
 * the middle of delivering them, start it again on the same data folder and
 * compare what the receiver received with what was queued.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { ApiClient, createCompany } from "./api.ts"
import { mapConcurrently } from "./concurrency.ts"
import { embeddedDatabaseUrl, type ServiceProcess, startServiceProcess } from "./crashableService.ts"
import { startRecordingReceiver } from "./recordingReceiver.ts"

/** Options of `runCrashTrial`. */
export interface CrashTrialOptions {
  /** Test deliveries to queue. */
  readonly events: number
  /** Test requests in flight while queueing. */
  readonly queueConcurrency: number
  /** `WEBHOOK_SUBSCRIPTION_CONCURRENCY` of the service: deliveries of the subscription in flight at once. */
  readonly subscriptionConcurrency: number
  /** The receiver responds 200 after a uniformly random delay from 0 to this many milliseconds. */
  readonly maxResponseDelayMs: number
  /** Whether the kill takes the embedded PostgreSQL down too, instead of the Node process only. */
  readonly killDatabase: boolean
  /** Time to wait for every delivery to succeed after the restart, in milliseconds. */
  readonly recoveryTimeoutMs: number
  /**
   * `WEBHOOK_TIMEOUT` of the service, such as `1 second`. After a kill the
   * claimed rows wait this long plus the 30 s claim margin of the store.
   */
  readonly deliveryTimeout?: string
  readonly onProgress?: (line: string) => void
}

/** Counts observed by one crash trial. */
export interface CrashTrialResult {
  readonly queued: number
  readonly receivedUnique: number
  /** Queued delivery ids the receiver never received. */
  readonly lost: number
  /** Delivery ids the receiver received more than once. */
  readonly duplicates: number
  /** Requests the receiver received in all, duplicates included. */
  readonly requests: number
  /** Deliveries the receiver had received when the service was killed. */
  readonly receivedAtKill: number
  /**
   * Attempts that reached the receiver before the kill but were never
   * recorded: delivery ids received before the kill with no attempt row
   * started before it.
   */
  readonly inFlightAtKill: number
  /** Duplicated delivery ids that were not in flight at the kill. It is 0 unless a recorded delivery was sent again. */
  readonly duplicatesNotInFlight: number
  /** Rows under a live claim just after the kill, or undefined when the database went down with the service. */
  readonly claimedAtKill: number | undefined
  /** Rows by status once the trial stopped waiting. */
  readonly statuses: Readonly<Record<string, number>>
  /** Milliseconds from the kill until every delivery was recorded as succeeded, or NaN if that never happened. */
  readonly recoveryMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Delay of every response while the backlog builds, in milliseconds. */
const slowResponseDelayMs = 250

/** Connects to the embedded PostgreSQL of `dataDirectory`, or returns undefined when it is not running. */
const connectDatabase = async (dataDirectory: string): Promise<pg.Client | undefined> => {
  const url = embeddedDatabaseUrl(dataDirectory)
  if (url === undefined) return undefined
  const client = new pg.Client({ connectionString: url })
  // A server that stops under the client must not end the process without a report.
  client.on("error", () => {})
  try {
    await client.connect()
    return client
  } catch {
    await client.end().catch(() => {})
    return undefined
  }
}

/**
 * Runs one crash trial on a fresh service with an embedded PostgreSQL in a
 * temporary folder, which it removes at the end. All traffic stays on
 * 127.0.0.1.
 */
export const runCrashTrial = async (options: CrashTrialOptions): Promise<CrashTrialResult> => {
  const progress = options.onProgress ?? (() => {})
  const dataDirectory = mkdtempSync(join(tmpdir(), "saleslab-crash-"))
  const operatorToken = `operator-${crypto.randomUUID()}`
  const env = {
    OPERATOR_TOKEN: operatorToken,
    LOG_LEVEL: "warning",
    WEBHOOK_SUBSCRIPTION_CONCURRENCY: String(options.subscriptionConcurrency),
    // Queueing sends one request per delivery, past the default limit of 600 requests per minute.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_DAY: "1000000",
    ...(options.deliveryTimeout === undefined ? {} : { WEBHOOK_TIMEOUT: options.deliveryTimeout })
  }
  const receiver = await startRecordingReceiver({ maxDelayMs: options.maxResponseDelayMs })
  let service: ServiceProcess | undefined
  let database: pg.Client | undefined
  try {
    progress("Starting the service with an embedded PostgreSQL")
    service = await startServiceProcess({ dataDirectory, env })
    const company = await createCompany(service.baseUrl, operatorToken, `Crash Trial ${crypto.randomUUID().slice(0, 8)}`)
    const api = new ApiClient(service.baseUrl, company.adminToken)
    const subscription = await api.request<{ id: string }>("POST", "/v1/webhooks", 201, {
      url: receiver.url,
      event_kinds: [],
      description: "Crash trial receiver"
    })

    // A slow receiver while queueing builds a backlog, so that the kill can come anywhere from 10 % to 90 %.
    receiver.setDelay(slowResponseDelayMs)
    progress(`Queueing ${options.events} test deliveries, ${options.queueConcurrency} requests in flight`)
    const queuedIds = await mapConcurrently(
      Array.from({ length: options.events }),
      options.queueConcurrency,
      async () =>
        (await api.request<{ delivery_id: string }>("POST", `/v1/webhooks/${subscription.id}/test`, 202)).delivery_id
    )

    // The kill comes when a random share of the deliveries, from 10 % to 90 %, has arrived.
    const low = Math.max(receiver.arrivals.length, Math.ceil(options.events * 0.1))
    const high = Math.max(low, Math.floor(options.events * 0.9))
    const killTarget = low + Math.floor(Math.random() * (high - low + 1))
    receiver.setDelay(undefined)
    progress(`Queued; ${receiver.arrivals.length} delivered so far. Killing the service after ${killTarget} deliveries`)
    while (receiver.arrivals.length < killTarget) await sleep(1)
    await service.kill(options.killDatabase)
    const killedAt = Date.now()
    const receivedAtKill = receiver.arrivals.length
    progress(
      `Sent SIGKILL to the ${options.killDatabase ? "service and its PostgreSQL" : "Node process"} ` +
        `after ${receivedAtKill} deliveries`
    )

    let claimedAtKill: number | undefined
    if (!options.killDatabase) {
      database = await connectDatabase(dataDirectory)
      const claimed = await database?.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM webhook_deliveries WHERE status = 'pending' AND claimed_until > now()"
      )
      claimedAtKill = claimed?.rows[0]?.count
      await database?.end().catch(() => {})
      database = undefined
    }

    progress("Starting the service again on the same data folder")
    service = await startServiceProcess({ dataDirectory, env })
    database = await connectDatabase(dataDirectory)
    if (database === undefined) throw new Error("The restarted service's database is not reachable.")

    const countStatuses = async () => {
      const result = await database!.query<{ status: string; count: number }>(
        "SELECT status, count(*)::int AS count FROM webhook_deliveries WHERE subscription_id = $1 GROUP BY status",
        [subscription.id]
      )
      return Object.fromEntries(result.rows.map((row) => [row.status, row.count])) as Record<string, number>
    }
    let statuses = await countStatuses()
    let recoveryMs = Number.NaN
    let nextReport = Date.now() + 5_000
    while (Date.now() < killedAt + options.recoveryTimeoutMs) {
      if ((statuses.succeeded ?? 0) >= queuedIds.length) {
        recoveryMs = Date.now() - killedAt
        break
      }
      if (Date.now() >= nextReport) {
        nextReport += 5_000
        progress(`${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill: ${JSON.stringify(statuses)}`)
      }
      await sleep(200)
      statuses = await countStatuses()
    }

    const recordedBeforeKill = await database.query<{ delivery_id: string }>(
      `SELECT DISTINCT d.delivery_id FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_pk = d.id
       WHERE d.subscription_id = $1 AND a.started_at < $2`,
      [subscription.id, new Date(killedAt)]
    )
    const recorded = new Set(recordedBeforeKill.rows.map((row) => row.delivery_id))
    const receivedBeforeKill = new Set(receiver.arrivals.slice(0, receivedAtKill).map((arrival) => arrival.deliveryId))
    const inFlight = new Set([...receivedBeforeKill].filter((deliveryId) => !recorded.has(deliveryId)))

    const timesReceived = new Map<string, number>()
    for (const arrival of receiver.arrivals) {
      timesReceived.set(arrival.deliveryId, (timesReceived.get(arrival.deliveryId) ?? 0) + 1)
    }
    const lost = queuedIds.filter((deliveryId) => !timesReceived.has(deliveryId)).length
    const duplicated = [...timesReceived].filter(([, count]) => count > 1).map(([deliveryId]) => deliveryId)

    return {
      queued: queuedIds.length,
      receivedUnique: timesReceived.size,
      lost,
      duplicates: duplicated.length,
      requests: receiver.arrivals.length,
      receivedAtKill,
      inFlightAtKill: inFlight.size,
      duplicatesNotInFlight: duplicated.filter((deliveryId) => !inFlight.has(deliveryId)).length,
      claimedAtKill,
      statuses,
      recoveryMs
    }
  } catch (error) {
    if (service !== undefined) {
      const message = error instanceof Error ? error.message : String(error)
      throw new Error(`${message}\nLast service output:\n${service.recentOutput()}`)
    }
    throw error
  } finally {
    await database?.end().catch(() => {})
    await service?.stop()
    await receiver.close()
    rmSync(dataDirectory, { recursive: true, force: true })
  }
}
