/**
 * Measures delivery throughput with one and with two runners on one machine.
 *
 *   npm run bench:runners -- --events 10000
 *
 * Starts an embedded PostgreSQL in a temporary folder on a free loopback
 * port (DATABASE_URL is ignored) and one receiver on 127.0.0.1 that returns
 * 200 after a random delay. For each configuration it creates a fresh
 * database on that server and starts the runners on it under Node. It
 * creates `--subscriptions` tenants with one subscription each through the
 * API. Then it queues `--events` `session.scorecard_finalized` events
 * through the outbox from this process, in transactions of 50 events on 4
 * connections, as an emit point queues them. Throughput is the number of deliveries queued divided by the time
 * from the first transaction until every row is recorded as `succeeded`.
 * The configurations are one runner in single mode, one socket runner and
 * two socket runners. The ratio compares each with the single-mode runner of
 * the same round.
 */
import { cpus, loadavg } from "node:os"
import { parseArgs } from "node:util"
import { type RecordingReceiver, startRecordingReceiver } from "./support/recordingReceiver.ts"
import {
  awaitAllSucceeded,
  awaitShardsSpread,
  connect,
  createDatabase,
  createSubscribers,
  type DatabaseServer,
  dropDatabase,
  queueScorecardEvents,
  type Runner,
  startDatabaseServer,
  startRunner
} from "./support/runnerCluster.ts"

const usage = "Usage: npm run bench:runners -- [--events N (1 to 100000, default 10000)] " +
  "[--subscriptions N tenants with one subscription each (1 to 2000, default 100)] " +
  "[--max-delay ms the receiver waits before its 200, at most (0 to 1000, default 5)] " +
  "[--rounds N times each configuration runs (1 to 5, default 1)] " +
  "[--timeout seconds to wait for one configuration's deliveries (1 to 600, default 300)]"

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "10000" },
    subscriptions: { type: "string", default: "100" },
    "max-delay": { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
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
const subscriptions = integerIn("subscriptions", values.subscriptions, 1, 2_000)
const maxDelayMs = integerIn("max-delay", values["max-delay"], 0, 1000)
const rounds = integerIn("rounds", values.rounds, 1, 5)
const timeoutSeconds = integerIn("timeout", values.timeout, 1, 600)
const progress = (line: string) => console.log(`> ${line}`)

/** One way to run the engine: how many runner processes, in which cluster mode. */
interface Configuration {
  readonly label: string
  readonly mode: "single" | "socket"
  readonly runners: number
}

const configurations: ReadonlyArray<Configuration> = [
  { label: "1 runner, single mode", mode: "single", runners: 1 },
  { label: "1 runner, socket mode", mode: "socket", runners: 1 },
  { label: "2 runners, socket mode", mode: "socket", runners: 2 }
]

/** The figures of one run of one configuration. */
interface Measurement {
  readonly configuration: Configuration
  readonly round: number
  readonly queued: number
  readonly queueMs: number
  /** Milliseconds from the first transaction until every row was recorded as succeeded; NaN on a timeout. */
  readonly allSucceededMs: number
  readonly loadAverage: number
}

const measure = async (
  server: DatabaseServer,
  receiver: RecordingReceiver,
  configuration: Configuration,
  round: number
): Promise<Measurement> => {
  const operatorToken = `operator-${crypto.randomUUID()}`
  const databaseUrl = await createDatabase(server.url, "bench")
  const runners: Array<Runner> = []
  try {
    progress(`Round ${round}: starting ${configuration.label}`)
    for (let index = 0; index < configuration.runners; index++) {
      runners.push(
        await startRunner({
          databaseUrl,
          mode: configuration.mode,
          env: {
            OPERATOR_TOKEN: operatorToken,
            LOG_LEVEL: "warning",
            // Creating the tenants sends two requests per subscription with one operator token.
            RATE_LIMIT_PER_MINUTE: "1000000",
            RATE_LIMIT_PER_DAY: "1000000"
          }
        })
      )
    }
    await awaitShardsSpread(databaseUrl, configuration.runners, 30_000)
    const subscribers = await createSubscribers({
      baseUrl: runners[0]!.baseUrl,
      operatorToken,
      receiverUrl: receiver.url,
      count: subscriptions,
      concurrency: 8
    })

    const database = await connect(databaseUrl)
    try {
      const startedAt = Date.now()
      const queued = await queueScorecardEvents({ databaseUrl, subscribers, events, transactionSize: 50, concurrency: 4 })
      const queueMs = Date.now() - startedAt
      const done = await awaitAllSucceeded(database, queued, startedAt + timeoutSeconds * 1000, (statuses) =>
        progress(`  ${((Date.now() - startedAt) / 1000).toFixed(0)} s: ${JSON.stringify(statuses)}`))
      const measurement = {
        configuration,
        round,
        queued,
        queueMs,
        allSucceededMs: done.at - startedAt,
        loadAverage: loadavg()[0]!
      }
      progress(`  ${queued} deliveries succeeded in ${(measurement.allSucceededMs / 1000).toFixed(1)} s`)
      return measurement
    } finally {
      await database.end().catch(() => {})
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const outputs = runners.map((runner) => `Last output of runner ${runner.runnerAddress}:\n${runner.recentOutput()}`)
    throw new Error([message, ...outputs].join("\n"))
  } finally {
    await Promise.all(runners.map((runner) => runner.stopAndClean()))
    await dropDatabase(server.url, databaseUrl).catch(() => {})
  }
}

progress("Starting an embedded PostgreSQL and the receiver")
const loadBefore = loadavg()[0]!
const receiver = await startRecordingReceiver({ maxDelayMs })
let server: DatabaseServer | undefined
// Ctrl-C must not leave the PostgreSQL server running; the runners die with their process groups.
process.once("SIGINT", () => {
  void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
})
const measurements: Array<Measurement> = []
let failure: unknown
try {
  server = await startDatabaseServer()
  for (let round = 1; round <= rounds; round++) {
    for (const configuration of configurations) measurements.push(await measure(server, receiver, configuration, round))
  }
} catch (error) {
  failure = error
} finally {
  await server?.stop()
  await receiver.close()
}
if (failure !== undefined) {
  console.error(`Benchmark failed: ${failure instanceof Error ? failure.message : String(failure)}`)
  process.exit(1)
}

const perSecond = (measurement: Measurement) => measurement.queued / (measurement.allSucceededMs / 1000)
const rows = measurements.map((measurement) => {
  const baseline = measurements.find((candidate) =>
    candidate.round === measurement.round && candidate.configuration === configurations[0]
  )!
  return [
    String(measurement.round),
    measurement.configuration.label,
    String(measurement.queued),
    (measurement.queueMs / 1000).toFixed(2),
    Number.isNaN(measurement.allSucceededMs) ? "-" : (measurement.allSucceededMs / 1000).toFixed(1),
    Number.isNaN(measurement.allSucceededMs) ? "-" : ((measurement.allSucceededMs - measurement.queueMs) / 1000).toFixed(1),
    Number.isNaN(measurement.allSucceededMs) ? "-" : perSecond(measurement).toFixed(0),
    Number.isNaN(measurement.allSucceededMs) ? "-" : (perSecond(measurement) / perSecond(baseline)).toFixed(2),
    measurement.loadAverage.toFixed(1)
  ]
})
const header = [
  "round",
  "configuration",
  "deliveries",
  "queueing s",
  "all succeeded s",
  "after the last commit s",
  "per second",
  "ratio",
  "load"
]
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
console.log("")
console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
console.log(`Load average (1 min): ${loadBefore.toFixed(2)} at the start; the load column is at the end of each run`)
console.log(
  `Run: ${events} events over ${subscriptions} subscriptions, receiver delay 0 to ${maxDelayMs} ms, ` +
    "default engine settings; ratio = deliveries per second / those of the single-mode runner of the same round"
)
console.log("")
for (const row of [header, ...rows]) {
  console.log(row.map((cell, column) => column === 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  "))
}
const incomplete = measurements.filter((measurement) => Number.isNaN(measurement.allSucceededMs))
if (incomplete.length > 0) {
  console.error(`${incomplete.length} runs did not record every delivery as succeeded within ${timeoutSeconds} s.`)
  process.exit(1)
}
process.exit(0)
