/**
 * Measures delivery throughput: durable deliveries per second from the
 * outbox to a fast local receiver, counted until every delivery is
 * recorded `succeeded` in `webhook_deliveries`.
 *
 *   npm run bench:throughput -- --subscriptions 100 --deliveries 60000
 *
 * Starts the service under Node with an embedded PostgreSQL in a temporary
 * folder and creates `--subscriptions` subscriptions, each in a tenant of
 * its own. This process publishes `--deliveries` events through the
 * project's `Outbox`, round-robin over the subscriptions, as fast as
 * `--publisher-connections` connections allow, `--events-per-transaction`
 * events to a transaction. By default the service's process is suspended
 * meanwhile (`--engine-while-publishing held`), so every delivery waits as
 * a backlog, and the engine then drains it without the publisher on the
 * same cores. The receiver runs in a child process, verifies every
 * signature and responds 200 at once.
 *
 * The baseline, measured in the same run, posts the stored bodies to the
 * same receiver over keep-alive connections, with no database in between,
 * from this process with `postForPrefix`, the client the service sends
 * with. It runs at the concurrency the engine reached and at a sweep of
 * others, as many requests at each as the engine delivered, and the
 * fastest is the ceiling. All traffic stays on 127.0.0.1.
 */
import { deliveryHeaders } from "../src/webhooks/Signing.ts"
import { postForPrefix } from "../src/webhooks/WebhookSender.ts"
import { requestTimeoutMs } from "./support/api.ts"
import type { SetupMethod } from "./support/benchSubscriptions.ts"
import { mapConcurrently } from "./support/concurrency.ts"
import { cpuCells, cpuHeader, type CpuUse, startCpuMeter } from "./support/cpu.ts"
import { type BenchEnvironment, environmentFlags, environmentOptions, environmentSettings, printMachine, progress, runBenchmark, startBenchEnvironment } from "./support/deliveryBench.ts"
import { EventBook, type EventRecord, waitForArrivals, waitForRecords } from "./support/loadPhase.ts"
import { readFlags } from "./support/options.ts"
import { benchmarkEventKind } from "./support/outboxPublisher.ts"
import { epochNow, formatCount, formatRate, type GoalLine, markdownTable, printGoals, printSettings } from "./support/report.ts"
import { startTimedReceiver, type TimedReceiver } from "./support/timedReceiver.ts"

/** The goal: the engine reaches at least this share of the bare-POST ceiling. */
const goalShare = 0.5
/**
 * Share of the deliveries that must still be pending at the last commit for
 * the backlog drain to be the engine's rate. While events are published,
 * the publisher takes CPU time from the engine on the same cores, so the
 * drain after the last commit is the cleaner figure when it is long enough.
 */
const minimumBacklogShare = 0.25

const flags = readFlags("bench:throughput", {
  subscriptions: { kind: "integer", default: 100, min: 1, max: 20_000, description: "subscriptions the deliveries are spread over" },
  deliveries: { kind: "integer", default: 60_000, min: 1, max: 200_000, description: "events to publish, one delivery each" },
  "events-per-transaction": {
    kind: "integer",
    default: 50,
    min: 1,
    max: 10_000,
    description: "events each publishing transaction writes; with 1, the publisher may not outpace the engine"
  },
  "baseline-requests": {
    kind: "integer",
    default: 0,
    min: 0,
    max: 200_000,
    description: "bare POSTs at each baseline concurrency; 0 posts as many as --deliveries"
  },
  "baseline-concurrency": { kind: "integers", default: [1, 8, 32, 128], min: 1, max: 2048, description: "baseline concurrencies besides the engine's peak" },
  "engine-while-publishing": {
    kind: "choice",
    default: "held" as EngineWhilePublishing,
    choices: ["held", "running"] as Array<EngineWhilePublishing>,
    description: "held: the service is suspended while the events are published, so every delivery waits as a backlog"
  },
  setup: { kind: "choice", default: "api" as SetupMethod, choices: ["api", "sql"] as Array<SetupMethod>, description: "create subscriptions through the REST API or with SQL inserts" },
  ...environmentFlags,
  timeout: { kind: "integer", default: 600, min: 1, max: 3600, description: "seconds to wait for every delivery to be recorded" }
})

/**
 * Whether the service runs while the events are published. `held` suspends
 * its process with SIGSTOP, and its embedded PostgreSQL, a process of its
 * own, takes the events meanwhile. SIGCONT then lets the engine drain the
 * whole set, with no publisher on the same cores.
 */
type EngineWhilePublishing = "held" | "running"

const serviceHeld = flags["engine-while-publishing"] === "held"

let receiver: TimedReceiver | undefined
let environment: BenchEnvironment | undefined

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Outcome of the engine run over the published deliveries. Times are epoch milliseconds. */
interface EngineRun {
  readonly records: ReadonlyArray<EventRecord>
  readonly startedAt: number
  readonly publishedAt: number
  /**
   * When the drain of the backlog started: the last commit, or, when the
   * service was held, the first arrival after its resumption.
   */
  readonly drainStartedAt: number
  /** Milliseconds from the resumption of a held service to its first delivery's arrival, NaN when it was not held. */
  readonly resumeToFirstArrivalMs: number
  /** Deliveries still pending when the drain started. */
  readonly pendingAtPublished: number
  /** When a check first found no pending delivery, NaN if none did before the timeout. */
  readonly recordedAt: number
  readonly lastArrivalAt: number
  readonly failures: number
  readonly peakConnections: number
  /** Connections the engine opened to the receiver during the run; with keep-alive, far fewer than deliveries. */
  readonly openedConnections: number
  /** CPU time from the first publish until every delivery was recorded. */
  readonly cpuOverall: CpuUse
  /** CPU time from the start of the drain until every delivery was recorded. */
  readonly cpuDrain: CpuUse
}

/** One baseline step: bare POSTs at a fixed number in flight. */
interface BaselineStep {
  readonly concurrency: number
  readonly requests: number
  readonly seconds: number
  readonly failures: number
}

/** Publishes every event as fast as the pool allows and waits until no delivery is pending. */
const runEngine = async (active: BenchEnvironment, book: EventBook): Promise<EngineRun> => {
  const targets = active.subscriptions
  const records: Array<EventRecord> = []
  let failures = 0
  let publishing = true
  let recordedAt = Number.NaN
  let pendingAtPublished = Number.NaN

  await receiver!.resetPeakConnections()
  const connectionsBefore = (await receiver!.counters()).totalConnections
  const stopOverallMeter = startCpuMeter(active.service.pid)
  if (serviceHeld) active.service.hold()
  const startedAt = epochNow()
  // Counting the pending rows costs PostgreSQL a scan over the entries that
  // recorded rows left in the index of pending rows, which took a sizeable
  // share of its CPU time from the drain. So the watch counts arrivals at the
  // receiver first, in this process, and checks the rows every 100 ms only
  // once every event has arrived.
  const watcher = (async () => {
    const deadline = startedAt + flags.timeout * 1000
    while (epochNow() < deadline) {
      await sleep(100)
      if (publishing || book.arrived + failures < book.records.size) continue
      const pending = (await active.publisher.statusCounts({ pendingOnly: true })).pending ?? 0
      if (pending === 0) {
        recordedAt = epochNow()
        return
      }
    }
  })()

  const perTransaction = flags["events-per-transaction"]
  const transactions = Array.from({ length: Math.ceil(flags.deliveries / perTransaction) }, (_, index) => index)
  await mapConcurrently(transactions, flags["publisher-connections"], async (transaction) => {
    const first = transaction * perTransaction
    const batch = Array.from({ length: Math.min(perTransaction, flags.deliveries - first) }, (_, offset) => {
      const record = book.add((first + offset) % targets.length, epochNow())
      records.push(record)
      return record
    })
    try {
      const published = await active.publisher.publishMany(batch.map((record) => ({ sequence: record.sequence, target: targets[record.target]! })))
      for (const record of batch) {
        record.startedAt = published.startedAt
        record.completedAt = published.committedAt
      }
    } catch {
      for (const record of batch) record.failed = true
      failures += batch.length
    }
  })
  const publishedAt = records.reduce((last, record) => Number.isNaN(record.completedAt) ? last : Math.max(last, record.completedAt), startedAt)
  pendingAtPublished = (await active.publisher.statusCounts({ pendingOnly: true })).pending ?? 0
  const stopDrainMeter = startCpuMeter(active.service.pid)
  const resumedAt = epochNow()
  if (serviceHeld) active.service.resume()
  publishing = false
  progress(
    `Published ${formatCount(records.length - failures)} events in ${((publishedAt - startedAt) / 1000).toFixed(1)} s; ` +
      `${formatCount(pendingAtPublished)} deliveries still pending${serviceHeld ? "; resuming the service" : ""}`
  )
  await watcher
  const cpuOverall = stopOverallMeter()
  const cpuDrain = stopDrainMeter()

  await waitForArrivals(receiver!, records, 5_000)
  const arrivals = records.filter((record) => !Number.isNaN(record.arrivedAt)).map((record) => record.arrivedAt)
  const lastArrivalAt = arrivals.length === 0 ? Number.NaN : arrivals.reduce((last, time) => Math.max(last, time))
  // A held service has been suspended for longer than its shard locks last,
  // so after the resumption the runner first acquires its shards again
  // before any partition runs. That wait belongs to the suspension, not to
  // the engine's rate, and is reported apart.
  const firstArrivalAt = arrivals.reduce((first, time) => Math.min(first, time), Number.POSITIVE_INFINITY)
  const drainStartedAt = serviceHeld ? firstArrivalAt : publishedAt
  const counters = await receiver!.counters()
  return {
    records,
    startedAt,
    publishedAt,
    drainStartedAt,
    resumeToFirstArrivalMs: serviceHeld ? firstArrivalAt - resumedAt : Number.NaN,
    pendingAtPublished,
    recordedAt,
    lastArrivalAt,
    failures,
    peakConnections: counters.peakConnections,
    openedConnections: counters.totalConnections - connectionsBefore,
    cpuOverall,
    cpuDrain
  }
}

/**
 * Posts `count` stored deliveries to the receiver with `concurrency` in
 * flight, signing each as the engine does, and returns the time it took.
 */
const postStored = async (
  stored: ReadonlyArray<{ readonly deliveryId: string; readonly body: string; readonly secret: string }>,
  concurrency: number,
  count: number
): Promise<BaselineStep> => {
  let failures = 0
  const started = performance.now()
  await mapConcurrently(Array.from({ length: count }, (_, index) => index), concurrency, async (index) => {
    const delivery = stored[index % stored.length]!
    const headers = deliveryHeaders({ deliveryId: delivery.deliveryId, eventKind: benchmarkEventKind, body: delivery.body, secret: delivery.secret })
    try {
      const result = await postForPrefix({ url: receiver!.url, headers, body: delivery.body }, requestTimeoutMs)
      if (result._tag !== "Response" || result.statusCode !== 200) failures += 1
    } catch {
      failures += 1
    }
  })
  return { concurrency, requests: count, seconds: (performance.now() - started) / 1000, failures }
}

const main = async () => {
  printMachine("before")
  receiver = await startTimedReceiver()
  environment = await startBenchEnvironment({
    receiver,
    subscriptions: flags.subscriptions,
    setup: flags.setup,
    ...environmentOptions(flags)
  })
  const active = environment
  const book = new EventBook(receiver)

  progress(`Warming up: one event per subscription`)
  const warmup = await Promise.all(active.subscriptions.map(async (target, index) => {
    const record = book.add(index, epochNow())
    const published = await active.publisher.publish(record.sequence, target)
    record.completedAt = published.committedAt
    return record
  }))
  await waitForArrivals(receiver, warmup, 60_000)
  await waitForRecords(active.publisher, 60_000)
  const warmupRows = (await active.publisher.statusCounts()).succeeded ?? 0

  progress(
    `Publishing ${formatCount(flags.deliveries)} events over ${flags["publisher-connections"]} connections, ${flags["events-per-transaction"]} to a transaction`
  )
  const engine = await runEngine(active, book)
  const statuses = await active.publisher.statusCounts()
  const recordedSeconds = (engine.recordedAt - engine.startedAt) / 1000
  const engineRate = flags.deliveries / recordedSeconds
  const drainSeconds = (engine.recordedAt - engine.drainStartedAt) / 1000
  const drainRate = engine.pendingAtPublished / drainSeconds
  const drainCounts = engine.pendingAtPublished >= minimumBacklogShare * flags.deliveries
  const engineFigure = drainCounts
    ? { rate: drainRate, label: "backlog drain" }
    : { rate: engineRate, label: "first publish to every delivery recorded" }
  // The baseline posts the same bodies again, so the receiver reports their sequences a second time.
  const repeatedDeliveries = book.duplicates

  progress("Reading the stored bodies for the baseline")
  const secrets = new Map(active.subscriptions.map((subscription) => [subscription.subscriptionId, subscription.secret]))
  const rows = await active.publisher.query<{ delivery_id: string; subscription_id: string; body: string }>(
    "SELECT delivery_id, subscription_id, body FROM webhook_deliveries WHERE event_kind = $1 ORDER BY id DESC LIMIT $2",
    [benchmarkEventKind, flags.deliveries]
  )
  const stored = rows.map((row) => ({ deliveryId: row.delivery_id, body: row.body, secret: secrets.get(row.subscription_id)! }))
  const concurrencies = [...new Set([...flags["baseline-concurrency"], Math.max(1, engine.peakConnections)])].sort((a, b) => a - b)
  // Each step posts as many requests as the engine delivered, so that the
  // ceiling and the engine's rate cover the same amount of work.
  const baselineRequests = flags["baseline-requests"] === 0 ? flags.deliveries : flags["baseline-requests"]
  const steps: Array<BaselineStep> = []
  for (const concurrency of concurrencies) {
    progress(`Baseline: ${formatCount(baselineRequests)} bare POSTs, ${concurrency} in flight`)
    steps.push(await postStored(stored, concurrency, baselineRequests))
  }
  const stepRate = (step: BaselineStep) => (step.requests - step.failures) / step.seconds
  const ceiling = steps.reduce((best, step) => (stepRate(step) > stepRate(best) ? step : best))
  const atEnginePeak = steps.find((step) => step.concurrency === Math.max(1, engine.peakConnections))!
  const counters = await receiver.counters()

  console.log("")
  console.log("## Delivery throughput: outbox to recorded success")
  console.log("")
  printSettings({
    subscriptions: `${flags.subscriptions}, one per tenant, created ${flags.setup === "api" ? "through the REST API" : "with SQL inserts"} in ${active.setupSeconds.toFixed(1)} s`,
    deliveries: formatCount(flags.deliveries),
    "events per publishing transaction": flags["events-per-transaction"],
    "service while publishing": serviceHeld
      ? `held (SIGSTOP), resumed after the last commit; first arrival ${Math.round(engine.resumeToFirstArrivalMs)} ms after the resumption, ` +
        "once the runner held its shards again"
      : "running",
    ...environmentSettings(flags),
    "engine connections to the receiver": `${engine.peakConnections} open at the peak, ${formatCount(engine.openedConnections)} opened after the warm-up`,
    "body size": `${Math.round(stored.reduce((sum, row) => sum + Buffer.byteLength(row.body), 0) / Math.max(1, stored.length))} bytes on average`
  })
  console.log("")
  const perSecond = (count: number, seconds: number) => formatRate(count / seconds)
  console.log(markdownTable(["step", "count", "seconds", "per second"], [
    ["publish every event (outbox transactions)", formatCount(flags.deliveries - engine.failures), ((engine.publishedAt - engine.startedAt) / 1000).toFixed(2), perSecond(flags.deliveries - engine.failures, (engine.publishedAt - engine.startedAt) / 1000)],
    ["first publish to the last arrival", formatCount(engine.records.filter((record) => !Number.isNaN(record.arrivedAt)).length), ((engine.lastArrivalAt - engine.startedAt) / 1000).toFixed(2), perSecond(flags.deliveries, (engine.lastArrivalAt - engine.startedAt) / 1000)],
    [
      `first publish to every delivery recorded succeeded (engine${serviceHeld ? ", held while publishing" : ""})`,
      formatCount(flags.deliveries),
      recordedSeconds.toFixed(2),
      formatRate(engineRate)
    ],
    [
      `${serviceHeld ? "first arrival after the resumption" : "last commit"} to every delivery recorded (backlog drain)`,
      formatCount(engine.pendingAtPublished),
      drainSeconds.toFixed(2),
      formatRate(drainRate)
    ],
    ...steps.map((step) => [
      `baseline: bare POSTs, ${step.concurrency} in flight${step.concurrency === atEnginePeak.concurrency ? " (engine's peak)" : ""}${step === ceiling ? " (ceiling)" : ""}`,
      formatCount(step.requests - step.failures),
      step.seconds.toFixed(2),
      formatRate(stepRate(step))
    ])
  ]))
  console.log("")
  console.log(markdownTable(["CPU time", ...cpuHeader], [
    [
      `first publish to every delivery recorded${serviceHeld ? " (service held while publishing)" : ""}`,
      ...cpuCells(engine.cpuOverall, flags.deliveries)
    ],
    ["backlog drain", ...cpuCells(engine.cpuDrain, Math.max(1, engine.pendingAtPublished))]
  ]))
  console.log("")
  const share = (rate: number, step: BaselineStep) => `${(rate / stepRate(step) * 100).toFixed(1)} %`
  console.log(
    `Engine / ceiling: ${share(drainRate, ceiling)} for the backlog drain, ${share(engineRate, ceiling)} from the first publish; ` +
      `against the baseline at the engine's peak concurrency: ${share(drainRate, atEnginePeak)} and ${share(engineRate, atEnginePeak)}`
  )
  if (drainCounts) {
    console.log(`The goal uses the backlog drain: ${formatCount(engine.pendingAtPublished)} deliveries were pending when it started.`)
  } else {
    console.log(
      `Only ${formatCount(engine.pendingAtPublished)} deliveries were pending at the last commit, fewer than ${minimumBacklogShare * 100} %, ` +
        "so the goal uses the rate from the first publish, which the publisher may have limited."
    )
  }
  console.log(
    `Receiver: ${formatCount(counters.valid)} valid requests (baseline included), ${formatCount(counters.invalid)} with an invalid signature, ` +
      `${formatCount(repeatedDeliveries)} repeated deliveries before the baseline; deliveries in the database (${formatCount(warmupRows)} from the warm-up): ` +
      Object.entries(statuses).map(([status, count]) => `${formatCount(count)} ${status}`).join(", ")
  )
  console.log("")
  const goals: Array<GoalLine> = [{
    goal: `engine at least ${goalShare * 100} % of the bare-POST ceiling`,
    measured: `${engineFigure.label}: ${formatRate(engineFigure.rate)}/s of ${formatRate(stepRate(ceiling))}/s = ${share(engineFigure.rate, ceiling)}`,
    met: engineFigure.rate >= goalShare * stepRate(ceiling)
  }]
  printGoals(goals)
  console.log("")
  printMachine("after")

  if (Number.isNaN(engine.recordedAt)) throw new Error(`Deliveries were still pending ${flags.timeout} s after the first publish.`)
  if (counters.invalid > 0) throw new Error(`${counters.invalid} deliveries had an invalid signature.`)
  if ((statuses.succeeded ?? 0) !== flags.deliveries + warmupRows) {
    throw new Error(`Expected ${flags.deliveries + warmupRows} succeeded deliveries, found ${statuses.succeeded ?? 0}.`)
  }
}

await runBenchmark(main, async () => {
  await environment?.stop()
  await receiver?.close()
})
