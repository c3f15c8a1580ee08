/**
 * Checks that a runner killed in the middle of a burst loses no delivery,
 * because the other runner takes over its subscriptions.
 *
 *   npm run trial:takeover -- --events 10000
 *
 * Starts an embedded PostgreSQL in a temporary folder on a free loopback
 * port (DATABASE_URL is ignored) and two service processes under Node in
 * socket mode on it. Creates `--subscriptions` tenants through the API,
 * each subscribed to one receiver on 127.0.0.1 that returns 200 after a
 * random delay, and queues `--events` `session.scorecard_finalized` events
 * through the outbox from this process, spread evenly over the tenants.
 * When a random share of the deliveries (20 % to 80 %) has arrived, it sends
 * SIGKILL to one runner that has worked subscriptions, and waits until every
 * delivery is recorded as succeeded. Exits with 1 when a delivery was lost
 * or never recorded.
 */
import { cpus, loadavg } from "node:os"
import { parseArgs } from "node:util"
import { createDatabase, type DatabaseServer, startDatabaseServer } from "./support/runnerCluster.ts"
import { runTakeoverTrial } from "./support/takeoverTrial.ts"

const usage = "Usage: npm run trial:takeover -- [--events N (1 to 100000, default 10000)] " +
  "[--subscriptions N tenants with one subscription each (2 to 2000, default 200)] " +
  "[--subscription-concurrency N deliveries of one subscription in flight (1 to 50, default 4)] " +
  "[--max-delay ms the receiver waits before its 200, at most (0 to 1000, default 5)] " +
  "[--kill-at percent of the deliveries arrived at the kill (1 to 99, default random from 20 to 80)] " +
  "[--timeout seconds to wait after the kill (1 to 600, default 300)]"

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "10000" },
    subscriptions: { type: "string", default: "200" },
    "subscription-concurrency": { type: "string", default: "4" },
    "max-delay": { type: "string", default: "5" },
    "kill-at": { type: "string" },
    timeout: { type: "string", default: "300" },
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
const events = integerIn("events", values.events, 1, 100_000)
const subscriptions = integerIn("subscriptions", values.subscriptions, 2, 2_000)
const subscriptionConcurrency = integerIn("subscription-concurrency", values["subscription-concurrency"], 1, 50)
const maxResponseDelayMs = integerIn("max-delay", values["max-delay"], 0, 1000)
const killAtPercent = values["kill-at"] === undefined
  ? 20 + Math.floor(Math.random() * 61)
  : integerIn("kill-at", values["kill-at"], 1, 99)
const timeoutSeconds = integerIn("timeout", values.timeout, 1, 600)
const progress = (line: string) => console.log(`> ${line}`)

progress("Starting an embedded PostgreSQL for both runners")
const loadBefore = loadavg()[0]!
let server: DatabaseServer | undefined
// Ctrl-C must not leave the PostgreSQL server running; the runners die with their process groups.
process.once("SIGINT", () => {
  void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
})
const outcome = await (async () => {
  server = await startDatabaseServer()
  const databaseUrl = await createDatabase(server.url, "takeover")
  return runTakeoverTrial({
    databaseUrl,
    subscriptions,
    events,
    subscriptionConcurrency,
    maxResponseDelayMs,
    killAtShare: killAtPercent / 100,
    recoveryTimeoutMs: timeoutSeconds * 1000,
    onProgress: progress
  })
})().then(
  (result) => ({ result }),
  (error: unknown) => ({ error })
)
await server?.stop()
if ("error" in outcome) {
  console.error(`Trial failed: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`)
  process.exit(1)
}
const result = outcome.result
const loadAfter = loadavg()[0]!

const seconds = (ms: number) => (Number.isNaN(ms) ? "-" : (ms / 1000).toFixed(1))
const rows: Array<[string, string]> = [
  ["queued", String(result.queued)],
  ["received unique", String(result.receivedUnique)],
  ["lost (queued, never received)", String(result.lost)],
  ["duplicated (received more than once)", String(result.duplicates)],
  ["duplicated but not in flight at the kill", String(result.duplicatesNotInFlight)],
  ["received at the kill", String(result.receivedAtKill)],
  ["in flight at the kill (received, not recorded)", String(result.inFlightAtKill)],
  ["subscriptions of the killed runner", String(result.victimSubscriptions)],
  ["  with deliveries left at the kill", String(result.victimSubscriptionsWithBacklog)],
  ["  delivered by the survivor after the kill", String(result.deliveredBySurvivor)],
  ["seconds from the kill to the survivor's first drain of them", seconds(result.shardTakeoverMs)],
  ["seconds from the kill to the survivor's first delivery for them", seconds(result.takeoverMs)],
  ["seconds from the kill to all received", seconds(result.allReceivedMs)],
  ["seconds from the kill to all recorded as succeeded", seconds(result.allSucceededMs)],
  ["most requests of one subscription in flight at once", String(result.maxInFlightPerSubscription)],
  [`arrived ${subscriptionConcurrency} or more places ahead of queue order`, String(result.outOfOrder)]
]
const width = Math.max(...rows.map(([label]) => label.length))
console.log("")
console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
console.log(`Load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`)
console.log(
  `Run: ${events} events over ${subscriptions} subscriptions, ${subscriptionConcurrency} in flight per subscription, ` +
    `receiver delay 0 to ${maxResponseDelayMs} ms; SIGKILL to runner ${result.victim} at ${killAtPercent} % ` +
    `of the deliveries, survivor ${result.survivor}`
)
console.log("")
for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value.padStart(8)}`)
console.log(`rows by status at the end: ${JSON.stringify(result.statuses)}`)

let exitCode = 0
if (result.lost > 0) {
  console.error(`${result.lost} deliveries were lost.`)
  exitCode = 1
}
if ((result.statuses.succeeded ?? 0) !== result.queued) {
  console.error(`${result.queued - (result.statuses.succeeded ?? 0)} deliveries were not recorded as succeeded within ${timeoutSeconds} s.`)
  exitCode = 1
}
if (result.duplicatesNotInFlight > 0) {
  console.error(`${result.duplicatesNotInFlight} deliveries arrived twice without being in flight at the kill.`)
  exitCode = 1
}
process.exit(exitCode)
