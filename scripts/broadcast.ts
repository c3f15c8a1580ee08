/**
 * Measures the fan-out of one broadcast: an operator publishes a churn
 * retro through `POST /api/admin/retros`, which queues one
 * `churn_retro.published` delivery for every matching subscription of every
 * tenant, and a local receiver waits until it has all of them.
 *
 *   npm run bench:broadcast -- --subscriptions 10000 --tenants 1000
 *
 * Starts the service as a child process under Node, with an embedded
 * PostgreSQL in a temporary folder (DATABASE_URL is ignored). Creates
 * `--tenants` companies and spreads `--subscriptions` subscriptions over
 * them, all pointing at one receiver on 127.0.0.1 that verifies each
 * signature and returns 200 at once. Reports the time the POST took to
 * queue the deliveries, the time until the receiver had every delivery, and
 * deliveries per second. A baseline in the same run posts as many signed
 * bodies from this client straight to the receiver, with as many requests
 * in flight as the engine had connections open. All traffic stays on
 * 127.0.0.1, and the run is bounded by the subscription count and
 * `--timeout`.
 */
import { createHmac, randomBytes } from "node:crypto"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import pg from "pg"
import { postForPrefix } from "../src/webhooks/WebhookSender.ts"
import { ApiClient, createCompany, requestTimeoutMs } from "./support/api.ts"
import { mapConcurrently } from "./support/concurrency.ts"
import { type ReceivedDelivery, startReceiver } from "./support/receiver.ts"
import { startService } from "./support/service.ts"

const broadcastKind = "churn_retro.published"

const usage = "Usage: npm run bench:broadcast -- [--subscriptions N (1 to 50000, default 10000)] " +
  "[--tenants N (1 to the subscription count, default 1000)] " +
  "[--setup-concurrency N requests in flight while creating tenants (1 to 64, default 16)] " +
  "[--timeout seconds to wait for the deliveries (1 to 600, default 600)]"

const readOptions = () => {
  const { values } = parseArgs({
    options: {
      subscriptions: { type: "string", default: "10000" },
      tenants: { type: "string", default: "1000" },
      "setup-concurrency": { type: "string", default: "16" },
      timeout: { type: "string", default: "600" },
      help: { type: "boolean", default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  const integerIn = (name: string, text: string, min: number, max: number) => {
    const value = Number(text)
    if (!Number.isInteger(value) || value < min || value > max) {
      console.error(`--${name} is invalid: '${text}' is not an integer from ${min} to ${max}.\n${usage}`)
      process.exit(2)
    }
    return value
  }
  const subscriptions = integerIn("subscriptions", values.subscriptions, 1, 50_000)
  return {
    subscriptions,
    tenants: integerIn("tenants", values.tenants, 1, subscriptions),
    setupConcurrency: integerIn("setup-concurrency", values["setup-concurrency"], 1, 64),
    timeoutSeconds: integerIn("timeout", values.timeout, 1, 600)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The subscription id in a `churn_retro.published:<slug>:<subscription_id>` delivery id. */
const subscriptionOf = (deliveryId: string) => deliveryId.slice(deliveryId.lastIndexOf(":") + 1)

const seconds = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "-")

const printTable = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const header = ["", "count", "seconds", "per second"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  for (const row of [header, ...rows]) {
    console.log(row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  "))
  }
}

/** Number of subscriptions of tenant `index` when `total` are spread as evenly as possible over `tenants`. */
const subscriptionsOfTenant = (index: number, total: number, tenants: number) =>
  Math.floor(total / tenants) + (index < total % tenants ? 1 : 0)

const options = readOptions()
const operatorToken = `operator-${crypto.randomUUID()}`
const progress = (line: string) => console.log(`> ${line}`)

/** Secret of every subscription created, by subscription id. */
const secrets = new Map<string, string>()
/** Arrival time of the first valid delivery of each delivery id. */
const arrivals = new Map<string, number>()
let duplicates = 0
let invalid = 0

const receiver = await startReceiver(
  (delivery: ReceivedDelivery) => {
    if (delivery.eventKind !== broadcastKind) return
    if (!delivery.signatureValid) invalid += 1
    else if (arrivals.has(delivery.deliveryId)) duplicates += 1
    else arrivals.set(delivery.deliveryId, delivery.receivedAt)
  },
  {
    secretsFor: (deliveryId) => {
      const secret = secrets.get(subscriptionOf(deliveryId))
      return secret === undefined ? [] : [secret]
    }
  }
)

progress("Starting the service under Node with an embedded PostgreSQL")
const service = await startService({
  runtime: "node",
  env: {
    OPERATOR_TOKEN: operatorToken,
    LOG_LEVEL: "warning",
    // The operator token creates every tenant, past the default limit of 600 requests per minute.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_DAY: "1000000"
  }
}).catch(async (error: unknown) => {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  await receiver.close()
  return process.exit(1)
})

let database: pg.Client | undefined
let exitCode = 0
try {
  const suffix = randomBytes(4).toString("hex")
  progress(`Creating ${options.tenants} tenants with ${options.subscriptions} subscriptions to ${receiver.url}`)
  const setupStarted = performance.now()
  let created = 0
  let nextReport = options.subscriptions / 10
  await mapConcurrently(
    Array.from({ length: options.tenants }, (_, index) => index),
    options.setupConcurrency,
    async (index) => {
      const company = await createCompany(service.baseUrl, operatorToken, `Broadcast Tenant ${index} ${suffix}`)
      const api = new ApiClient(service.baseUrl, company.adminToken)
      for (let count = subscriptionsOfTenant(index, options.subscriptions, options.tenants); count > 0; count--) {
        const subscription = await api.request<{ id: string; secret: string }>("POST", "/v1/webhooks", 201, {
          url: receiver.url,
          event_kinds: [broadcastKind],
          description: "Broadcast benchmark receiver"
        })
        secrets.set(subscription.id, subscription.secret)
        created += 1
        if (created >= nextReport) {
          const elapsed = performance.now() - setupStarted
          console.log(`  ${created} subscriptions in ${seconds(elapsed)} s (${(created / (elapsed / 1000)).toFixed(0)} per second)`)
          nextReport += options.subscriptions / 10
        }
      }
    }
  )

  // The benchmark reads the delivery rows from the service's own database.
  const databaseUrl = service.embeddedDatabaseUrl()
  if (databaseUrl !== undefined) {
    database = new pg.Client({ connectionString: databaseUrl })
    // Without a listener, a dropped connection (the database stopped) would end the process without a report.
    database.on("error", (error) => console.error(`The connection to the service's database failed: ${error.message}`))
    await database.connect()
  } else {
    progress("The service's database is not reachable: the delivery counts come from the receiver only")
  }
  const deliveryCounts = async () => {
    if (database === undefined) return undefined
    const result = await database.query<{ status: string; count: string }>(
      "SELECT status, count(*) FROM webhook_deliveries WHERE event_kind = $1 GROUP BY status",
      [broadcastKind]
    )
    return Object.fromEntries(result.rows.map((row) => [row.status, Number(row.count)])) as Record<string, number>
  }
  const describeCounts = (counts: Record<string, number> | undefined) =>
    counts === undefined
      ? "unknown"
      : Object.entries(counts).map(([status, count]) => `${count} ${status}`).join(", ") || "none"

  const slug = `broadcast-benchmark-${suffix}`
  progress(`Publishing the churn retro '${slug}' through POST /api/admin/retros`)
  receiver.resetPeakConnections()
  const postStarted = performance.now()
  await new ApiClient(service.baseUrl, operatorToken).request("POST", "/api/admin/retros", 201, {
    slug,
    company_name: "Broadcast Benchmark Ltd",
    reason_short: "Measured how fast one retro reaches every subscriber.",
    what_we_changed: "Nothing: this retro exists only for the broadcast benchmark."
  })
  const enqueueMs = performance.now() - postStarted
  const queued = await deliveryCounts()
  const queuedTotal = queued === undefined ? undefined : Object.values(queued).reduce((sum, count) => sum + count, 0)
  console.log(`  the POST returned after ${seconds(enqueueMs)} s; deliveries in the database: ${describeCounts(queued)}`)

  // The engine records each attempt after the receiver has responded, so the rows lag behind the arrivals.
  progress(`Waiting up to ${options.timeoutSeconds} s for ${options.subscriptions} deliveries and their records`)
  const deadline = postStarted + options.timeoutSeconds * 1000
  let nextStatus = performance.now() + 5_000
  let counts = queued
  let allRecordedAt = Number.NaN
  const allRecorded = () => counts === undefined || counts.succeeded === options.subscriptions
  while ((arrivals.size < options.subscriptions || !allRecorded()) && performance.now() < deadline) {
    await sleep(250)
    counts = await deliveryCounts()
    if (allRecorded()) allRecordedAt = performance.now()
    if (performance.now() >= nextStatus) {
      nextStatus += 5_000
      console.log(
        `  ${seconds(performance.now() - postStarted)} s: ${arrivals.size} received; in the database: ${describeCounts(counts)}`
      )
    }
  }
  const engineConcurrency = Math.max(1, receiver.connections().peak)
  const arrivalTimes = [...arrivals.values()]
  const firstArrival = arrivalTimes.reduce((first, time) => Math.min(first, time), Number.POSITIVE_INFINITY)
  const lastArrival = arrivalTimes.reduce((last, time) => Math.max(last, time), Number.NEGATIVE_INFINITY)
  const fanOutMs = lastArrival - postStarted

  progress(`Baseline: ${options.subscriptions} signed POSTs straight to the receiver, ${engineConcurrency} in flight`)
  const sample = receiver.deliveries.find((delivery) => delivery.eventKind === broadcastKind && delivery.signatureValid)
  let baselineMs = Number.NaN
  if (sample !== undefined) {
    const secret = secrets.get(subscriptionOf(sample.deliveryId))!
    const signature = `sha256=${createHmac("sha256", secret).update(sample.body).digest("hex")}`
    const baselineStarted = performance.now()
    await mapConcurrently(Array.from({ length: options.subscriptions }), engineConcurrency, async () => {
      const result = await postForPrefix({
        url: receiver.url,
        headers: {
          "content-type": "application/json",
          "x-saleslab-event": "baseline",
          "x-saleslab-delivery-id": sample.deliveryId,
          "x-saleslab-signature": signature
        },
        body: sample.body
      }, requestTimeoutMs)
      if (result._tag !== "Response" || result.statusCode !== 200) throw new Error("The receiver did not respond 200 to a baseline POST.")
    })
    baselineMs = performance.now() - baselineStarted
  }

  const perSecond = (count: number, ms: number) => Number.isFinite(ms) && ms > 0 ? (count / (ms / 1000)).toFixed(0) : "-"
  console.log("")
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
  console.log(
    `Run: ${options.subscriptions} subscriptions over ${options.tenants} tenants, one ${broadcastKind} broadcast; ` +
      `the engine had up to ${engineConcurrency} connections open to the receiver`
  )
  console.log("")
  printTable([
    ["POST /api/admin/retros (queues every delivery)", String(queuedTotal ?? "-"), seconds(enqueueMs), perSecond(queuedTotal ?? 0, enqueueMs)],
    ["POST to the first delivery", arrivals.size > 0 ? "1" : "0", seconds(firstArrival - postStarted), "-"],
    ["POST to the last delivery", String(arrivals.size), seconds(fanOutMs), perSecond(arrivals.size, fanOutMs)],
    [
      "POST to every delivery recorded as succeeded",
      String(counts?.succeeded ?? "-"),
      seconds(allRecordedAt - postStarted),
      perSecond(counts?.succeeded ?? 0, allRecordedAt - postStarted)
    ],
    [`baseline: direct POSTs, ${engineConcurrency} in flight`, String(options.subscriptions), seconds(baselineMs), perSecond(options.subscriptions, baselineMs)]
  ])
  console.log("")
  console.log(`Ratio to baseline: the broadcast took ${(fanOutMs / baselineMs).toFixed(1)} times as long`)
  console.log(`Deliveries in the database at the end: ${describeCounts(counts)}`)

  const missing = options.subscriptions - arrivals.size
  if (queuedTotal !== undefined && queuedTotal !== options.subscriptions) {
    console.error(`The POST queued ${queuedTotal} deliveries, expected ${options.subscriptions}.`)
    exitCode = 1
  }
  if (missing > 0) {
    console.error(`${missing} deliveries did not arrive within ${options.timeoutSeconds} s of the POST.`)
    exitCode = 1
  }
  if (invalid > 0) {
    console.error(`${invalid} deliveries had an invalid signature.`)
    exitCode = 1
  }
  if (counts !== undefined && counts.succeeded !== options.subscriptions) {
    console.error(`${options.subscriptions - (counts.succeeded ?? 0)} deliveries were not recorded as succeeded within ${options.timeoutSeconds} s.`)
    exitCode = 1
  }
  if (duplicates > 0) console.log(`${duplicates} deliveries arrived more than once (delivery is at least once).`)
} catch (error) {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  console.error(`Last service output:\n${service.recentOutput()}`)
  exitCode = 1
} finally {
  await database?.end().catch(() => {})
  await receiver.close()
  await service.stop()
}
process.exit(exitCode)
