/**
 * Checks that a service killed in the middle of delivering webhooks loses
 * none of them once it starts again.
 *
 *   npm run trial:crash -- --events 10000
 *
 * Starts the service under Node with an embedded PostgreSQL in a temporary
 * folder (DATABASE_URL is ignored), subscribes one tenant to a receiver on
 * 127.0.0.1 that returns 200 after a random delay, and queues `--events`
 * deliveries through `POST /v1/webhooks/{id}/test`. When a random share of
 * them (10 % to 90 %) has arrived, it sends SIGKILL to the Node process,
 * or with `--kill-database` to PostgreSQL as well. Then it starts the
 * service again on the same folder and waits until every delivery is
 * recorded as succeeded. Exits with 1 when a delivery was lost or never recorded.
 */
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { runCrashTrial } from "./support/crashTrial.ts"

const usage = "Usage: npm run trial:crash -- [--events N (1 to 100000, default 10000)] " +
  "[--queue-concurrency N test requests in flight while queueing (1 to 64, default 16)] " +
  "[--subscription-concurrency N deliveries in flight (1 to 50, default 4)] " +
  "[--max-delay ms the receiver waits before its 200, at most (0 to 1000, default 20)] " +
  "[--timeout seconds to wait for recovery (1 to 600, default 300)] [--kill-database]"

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "10000" },
    "queue-concurrency": { type: "string", default: "16" },
    "subscription-concurrency": { type: "string", default: "4" },
    "max-delay": { type: "string", default: "20" },
    timeout: { type: "string", default: "300" },
    "kill-database": { type: "boolean", default: false },
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
const queueConcurrency = integerIn("queue-concurrency", values["queue-concurrency"], 1, 64)
const subscriptionConcurrency = integerIn("subscription-concurrency", values["subscription-concurrency"], 1, 50)
const maxResponseDelayMs = integerIn("max-delay", values["max-delay"], 0, 1000)
const timeoutSeconds = integerIn("timeout", values.timeout, 1, 600)

const result = await runCrashTrial({
  events,
  queueConcurrency,
  subscriptionConcurrency,
  maxResponseDelayMs,
  killDatabase: values["kill-database"],
  recoveryTimeoutMs: timeoutSeconds * 1000,
  onProgress: (line) => console.log(`> ${line}`)
}).catch((error: unknown) => {
  console.error(`Trial failed: ${error instanceof Error ? error.message : String(error)}`)
  return process.exit(1)
})

const rows: Array<[string, string]> = [
  ["queued", String(result.queued)],
  ["received unique", String(result.receivedUnique)],
  ["lost (queued, never received)", String(result.lost)],
  ["duplicated (received more than once)", String(result.duplicates)],
  ["duplicated but not in flight at the kill", String(result.duplicatesNotInFlight)],
  ["received at the kill", String(result.receivedAtKill)],
  ["in flight at the kill (received, not recorded)", String(result.inFlightAtKill)],
  ["claimed at the kill", result.claimedAtKill === undefined ? "-" : String(result.claimedAtKill)],
  ["seconds from the kill to all succeeded", Number.isNaN(result.recoveryMs) ? "-" : (result.recoveryMs / 1000).toFixed(1)]
]
const width = Math.max(...rows.map(([label]) => label.length))
console.log("")
console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
console.log(
  `Run: ${events} test deliveries to one subscription, ${subscriptionConcurrency} in flight, receiver delay 0 to ` +
    `${maxResponseDelayMs} ms; SIGKILL to ${values["kill-database"] ? "the service and its PostgreSQL" : "the Node process only"}`
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
