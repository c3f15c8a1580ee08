/**
 * Checks that the service recovers by itself, within 10 seconds and losing
 * no delivery, when its PostgreSQL restarts.
 *
 *   npm run trial:pg-restart -- --events 5000
 *   npm run trial:pg-restart -- --idle
 *
 * Starts an embedded PostgreSQL in a temporary folder on a free port of
 * 127.0.0.1 (DATABASE_URL is ignored), and the service under Node with
 * `DATABASE_URL` pointing at it. It subscribes one tenant `--subscriptions`
 * times to a receiver on 127.0.0.1 that returns 200 at once, and queues
 * `--events` deliveries through the `Outbox` service, with the service held
 * (SIGSTOP) meanwhile, then resumes it. When `--restart-at` of
 * them has arrived, it shuts PostgreSQL down in fast mode (SIGINT to the
 * postmaster, as `pg_ctl stop -m fast` does), which ends every connection,
 * and starts it again on the same port `--down` seconds later.
 *
 * With `--idle`, the first burst is delivered and recorded before the
 * restart, and a second burst is queued `--burst-delay` seconds after
 * PostgreSQL accepts connections again. Its first delivery shows whether the
 * LISTEN connection came back or a sweep woke the subscriptions.
 *
 * Prints the timings from PostgreSQL accepting connections again and the
 * delivery counts. Exits with 1 when a delivery was lost, when `/readyz`,
 * the LISTEN connection, the first delivery or the earlier delivery rate
 * took more than 10 seconds to come back, or when some delivery was not
 * recorded as succeeded within `--timeout`.
 */
import { createWriteStream } from "node:fs"
import { cpus, loadavg } from "node:os"
import { parseArgs } from "node:util"
import { recoveredRateShare, runPgRestartTrial } from "./support/pgRestartTrial.ts"

/** Time within which each part of the service must be back, in milliseconds. */
const recoveryLimitMs = 10_000

const usage = "Usage: npm run trial:pg-restart -- [--events N deliveries per burst (1 to 100000, default 5000)] " +
  "[--subscriptions N (1 to 50, default 4)] " +
  "[--subscription-concurrency N deliveries of one subscription in flight (1 to 50, default 4)] " +
  "[--down seconds PostgreSQL stays stopped (0 to 60, default 2)] " +
  "[--restart-at share of the burst delivered before the restart (0.05 to 0.9, default 0.3)] " +
  "[--idle restart with nothing queued, then queue a second burst] " +
  "[--burst-delay seconds from PostgreSQL accepting connections to the second burst, with --idle (0 to 60, default 10)] " +
  "[--timeout seconds to wait for every delivery to be recorded (10 to 600, default 120)] " +
  "[--service-log FILE to write the service's output to] " +
  "[--log-level LEVEL of the service: trace, debug, info, warning, error or none (default warning)]"

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "5000" },
    subscriptions: { type: "string", default: "4" },
    "subscription-concurrency": { type: "string", default: "4" },
    down: { type: "string", default: "2" },
    "restart-at": { type: "string", default: "0.3" },
    idle: { type: "boolean", default: false },
    "burst-delay": { type: "string", default: "10" },
    timeout: { type: "string", default: "120" },
    "service-log": { type: "string" },
    "log-level": { type: "string", default: "warning" },
    help: { type: "boolean", default: false }
  }
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const numberIn = (name: string, text: string, min: number, max: number, integer: boolean) => {
  const value = Number(text)
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    console.error(`--${name} is invalid: '${text}' is not ${integer ? "an integer" : "a number"} from ${min} to ${max}.\n${usage}`)
    process.exit(2)
  }
  return value
}
const events = numberIn("events", values.events, 1, 100_000, true)
const subscriptions = numberIn("subscriptions", values.subscriptions, 1, 50, true)
const subscriptionConcurrency = numberIn("subscription-concurrency", values["subscription-concurrency"], 1, 50, true)
const downSeconds = numberIn("down", values.down, 0, 60, false)
const restartAfterShare = numberIn("restart-at", values["restart-at"], 0.05, 0.9, false)
const burstDelaySeconds = numberIn("burst-delay", values["burst-delay"], 0, 60, false)
const timeoutSeconds = numberIn("timeout", values.timeout, 10, 600, true)
const mode = values.idle ? "idle" : "busy"
const logLevels = ["trace", "debug", "info", "warning", "error", "none"]
if (!logLevels.includes(values["log-level"])) {
  console.error(`--log-level is invalid: '${values["log-level"]}' is not one of ${logLevels.join(", ")}.\n${usage}`)
  process.exit(2)
}

const serviceLog = values["service-log"] === undefined ? undefined : createWriteStream(values["service-log"])
const loadBefore = loadavg()[0]!

const result = await runPgRestartTrial({
  mode,
  events,
  subscriptions,
  subscriptionConcurrency,
  downMs: downSeconds * 1000,
  restartAfterShare,
  burstDelayMs: burstDelaySeconds * 1000,
  timeoutMs: timeoutSeconds * 1000,
  serviceLogLevel: values["log-level"],
  ...(serviceLog === undefined ? {} : { onServiceOutput: (line: string) => serviceLog.write(`${line}\n`) }),
  // UTC times, to match the timestamps of the service log.
  onProgress: (line) => console.log(`> ${new Date().toISOString().slice(11, 23)} ${line}`)
}).catch((error: unknown) => {
  console.error(`Trial failed: ${error instanceof Error ? error.message : String(error)}`)
  return process.exit(1)
})
serviceLog?.end()

const seconds = (ms: number) => (Number.isNaN(ms) ? "never" : (ms / 1000).toFixed(2))
const fromBurst = mode === "idle" ? "the second burst's first commit" : "PostgreSQL accepting connections"
const rows: Array<[string, string]> = [
  ["queued", String(result.queued)],
  ["delivered (unique)", String(result.receivedUnique)],
  ["lost (queued, never received)", String(result.lost)],
  ["duplicated (received more than once)", String(result.duplicates)],
  ["attempts in flight at the restart (received, no record yet)", String(result.inFlightAtRestart)],
  ["rows under a claim when PostgreSQL came back", String(result.claimedAtRestart)],
  ["delivery rate before the restart, per second", result.baselineRate.toFixed(0)],
  ["seconds the fast shutdown took", seconds(result.shutdownMs)],
  ["seconds from the shutdown to accepting connections", seconds(result.outageMs)],
  ["/readyz not ready during the outage", result.notReadySeen ? "yes" : "no"],
  ["seconds from accepting connections to /readyz 200", seconds(result.readyMs)],
  ["seconds from accepting connections to LISTEN again", seconds(result.listenMs)],
  ...(mode === "idle"
    ? [["seconds from accepting connections to the second burst", seconds(result.burstQueuedMs)] as [string, string]]
    : []),
  [`seconds from ${fromBurst} to the first delivery`, seconds(result.firstDeliveryMs)],
  [
    `seconds from ${fromBurst} to ${recoveredRateShare * 100} % of the earlier rate`,
    seconds(result.rateRecoveredMs)
  ],
  ...(mode === "idle"
    ? [
      ["first burst: seconds from its first commit to the first delivery", seconds(result.firstBurstFirstDeliveryMs)],
      [
        `first burst: seconds from its first commit to ${recoveredRateShare * 100} % of its rate`,
        seconds(result.firstBurstRateReachedMs)
      ]
    ] as Array<[string, string]>
    : []),
  ["first delivery woken by", result.wokenBy],
  ["seconds from accepting connections to all recorded as succeeded", seconds(result.allSucceededMs)]
]
const width = Math.max(...rows.map(([label]) => label.length))
console.log("")
console.log(
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}, ` +
    `load average ${loadBefore.toFixed(2)} before and ${loadavg()[0]!.toFixed(2)} after the run`
)
console.log(
  `Run: ${mode === "idle" ? "two bursts" : "one burst"} of ${events} deliveries over ${subscriptions} subscriptions, ` +
    `${subscriptionConcurrency} in flight each; PostgreSQL stopped in fast mode ` +
    (mode === "idle"
      ? `with nothing queued, second burst ${burstDelaySeconds} s after it came back`
      : `after ${Math.round(restartAfterShare * 100)} % had arrived`) +
    `, down ${downSeconds} s`
)
console.log("")
for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value.padStart(8)}`)
console.log(`rows by status at the end: ${JSON.stringify(result.statuses)}`)

const failures: Array<string> = []
if (result.lost > 0) failures.push(`${result.lost} deliveries were lost.`)
if ((result.statuses.succeeded ?? 0) < result.queued) {
  failures.push(`${result.queued - (result.statuses.succeeded ?? 0)} deliveries were not recorded as succeeded within ${timeoutSeconds} s.`)
}
const timings: Array<[string, number]> = [
  ["/readyz", result.readyMs],
  ["the LISTEN connection", result.listenMs],
  ["the first delivery", result.firstDeliveryMs],
  ["the earlier delivery rate", result.rateRecoveredMs]
]
for (const [what, ms] of timings) {
  if (Number.isNaN(ms) || ms > recoveryLimitMs) {
    failures.push(`${what} took ${Number.isNaN(ms) ? "forever" : `${seconds(ms)} s`} to come back, over the ${recoveryLimitMs / 1000} s limit.`)
  }
}
for (const failure of failures) console.error(failure)
process.exit(failures.length > 0 ? 1 : 0)
