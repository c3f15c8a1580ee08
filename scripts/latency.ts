/**
 * Measures delivery latency: the time from the commit of an event in the
 * outbox to the arrival of its delivery at a local receiver, at several
 * steady rates.
 *
 *   npm run bench:latency -- --rates 100,500,1000 --duration 30
 *
 * Starts the service under Node with an embedded PostgreSQL in a temporary
 * folder and creates `--subscriptions` subscriptions, each in a tenant of
 * its own. Events are published through the project's `Outbox` from this
 * process, open-loop at each rate, round-robin over the subscriptions. The
 * receiver runs in a child process and reports arrival
 * times. The baseline, measured at each rate in the same run, is the round
 * trip of a bare POST of the same kind of body to the same receiver. All
 * traffic stays on 127.0.0.1.
 */
import type { SetupMethod } from "./support/benchSubscriptions.ts"
import { cpuCells, cpuHeader, type CpuUse, startCpuMeter } from "./support/cpu.ts"
import { type BenchEnvironment, environmentFlags, environmentOptions, environmentSettings, printMachine, progress, runBenchmark, startBenchEnvironment } from "./support/deliveryBench.ts"
import {
  type BaselinePhase,
  commitToArrival,
  describeLatency,
  EventBook,
  latencyStages,
  postAtRate,
  publishAtRate,
  type PublishPhase,
  type Stages,
  waitForArrivals,
  waitForRecords
} from "./support/loadPhase.ts"
import { readFlags } from "./support/options.ts"
import {
  formatCount,
  formatMs,
  formatRate,
  formatRatio,
  type GoalLine,
  markdownTable,
  printGoals,
  printSettings,
  summarize,
  summaryCells,
  summaryHeader,
  type Summary
} from "./support/report.ts"
import { startTimedReceiver, type TimedReceiver } from "./support/timedReceiver.ts"

/** The goal: P99 from commit to arrival of at most `goalP99Ms` at `goalRate` events per second. */
const goalRate = 500
const goalP99Ms = 100

const flags = readFlags("bench:latency", {
  rates: { kind: "integers", default: [100, 500, 1000], min: 1, max: 5000, description: "event rates to measure, per second" },
  duration: { kind: "integer", default: 30, min: 1, max: 600, description: "seconds each rate is sustained" },
  "baseline-duration": { kind: "integer", default: 10, min: 1, max: 600, description: "seconds of bare POSTs at each rate" },
  warmup: { kind: "integer", default: 10, min: 0, max: 120, description: "seconds at the first rate before measuring, not reported" },
  subscriptions: { kind: "integer", default: 100, min: 1, max: 20_000, description: "subscriptions the events are spread over" },
  setup: { kind: "choice", default: "api" as SetupMethod, choices: ["api", "sql"] as Array<SetupMethod>, description: "create subscriptions through the REST API or with SQL inserts" },
  ...environmentFlags,
  "drain-timeout": { kind: "integer", default: 60, min: 1, max: 600, description: "seconds to wait for the last deliveries of a rate" }
})

interface RateResult {
  readonly rate: number
  readonly baseline: BaselinePhase
  readonly published: PublishPhase
  readonly latency: Summary
  /** From the call of each publish, the wait for a pooled connection included, to its commit. */
  readonly commit: Summary
  readonly stages: Stages
  /** CPU time from the first publish until every delivery of the rate was recorded. */
  readonly cpu: CpuUse
}

let receiver: TimedReceiver | undefined
let environment: BenchEnvironment | undefined

const measureRate = async (active: BenchEnvironment, book: EventBook, rate: number): Promise<RateResult> => {
  const targets = active.subscriptions
  progress(`Baseline: bare POSTs at ${rate}/s for ${flags["baseline-duration"]} s`)
  const baseline = await postAtRate({ receiver: receiver!, book, targets, rate, durationSeconds: flags["baseline-duration"] })

  progress(`Publishing at ${rate}/s for ${flags.duration} s`)
  const stopCpuMeter = startCpuMeter(active.service.pid)
  const published = await publishAtRate({ publisher: active.publisher, book, targets, rate, durationSeconds: flags.duration })
  const missing = await waitForArrivals(receiver!, published.records, flags["drain-timeout"] * 1000)
  if (missing > 0) progress(`${missing} deliveries had not arrived ${flags["drain-timeout"]} s after the last commit`)
  await waitForRecords(active.publisher, flags["drain-timeout"] * 1000)
  const cpu = stopCpuMeter()

  const committed = published.records.filter((record) => !record.failed)
  const latency = commitToArrival(published.records)
  progress(`${rate}/s: commit to arrival ${describeLatency(latency)}; bare POST ${describeLatency(baseline.roundTrip)}`)
  return {
    rate,
    baseline,
    published,
    latency,
    commit: summarize(committed.map((record) => record.completedAt - record.startedAt)),
    stages: await latencyStages(active.publisher, published.records),
    cpu
  }
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
  const clock = receiver.offsetAtStart

  if (flags.warmup > 0) {
    progress(`Warming up at ${flags.rates[0]}/s for ${flags.warmup} s`)
    const warmup = await publishAtRate({
      publisher: active.publisher,
      book,
      targets: active.subscriptions,
      rate: flags.rates[0]!,
      durationSeconds: flags.warmup
    })
    await waitForArrivals(receiver, warmup.records, flags["drain-timeout"] * 1000)
    await waitForRecords(active.publisher, flags["drain-timeout"] * 1000)
    progress(`Warm-up latency, not reported: ${describeLatency(commitToArrival(warmup.records))}`)
  }

  const results: Array<RateResult> = []
  for (const rate of flags.rates) results.push(await measureRate(active, book, rate))
  const counters = await receiver.counters()
  const statuses = await active.publisher.statusCounts()
  const clockAtEnd = await receiver.clockOffset()

  console.log("")
  console.log("## Delivery latency: event commit to arrival")
  console.log("")
  printSettings({
    subscriptions: `${flags.subscriptions}, one per tenant, created ${flags.setup === "api" ? "through the REST API" : "with SQL inserts"} in ${active.setupSeconds.toFixed(1)} s`,
    "seconds per rate": `${flags.duration} (baseline ${flags["baseline-duration"]}, warm-up ${flags.warmup})`,
    ...environmentSettings(flags),
    "receiver clock offset, subtracted from arrivals": `${formatMs(clock.offsetMs)} ms at the start (IPC round trip ${formatMs(clock.roundTripMs)} ms), ` +
      `${formatMs(clockAtEnd.offsetMs)} ms at the end (${formatMs(clockAtEnd.roundTripMs)} ms)`
  })
  console.log("")
  console.log(markdownTable(
    ["offered rate", "path", "achieved rate", ...summaryHeader, "P99 / baseline P99"],
    results.flatMap((result) => [
      [
        `${result.rate}/s`,
        "commit to arrival",
        formatRate(result.published.achievedRate),
        ...summaryCells(result.latency),
        formatRatio(result.latency.p99 / result.baseline.roundTrip.p99)
      ],
      [`${result.rate}/s`, "bare POST round trip (baseline)", formatRate(result.baseline.achievedRate), ...summaryCells(result.baseline.roundTrip), ""],
      [`${result.rate}/s`, "bare POST, send to arrival", "", ...summaryCells(result.baseline.sendToArrival), ""]
    ])
  ))
  console.log("")
  console.log("The same latency split at the start of the first attempt, as the service recorded it (millisecond precision):")
  console.log("")
  console.log(markdownTable(
    ["offered rate", "stage", ...summaryHeader],
    results.flatMap((result) => [
      [`${result.rate}/s`, "commit to attempt start", ...summaryCells(result.stages.commitToAttempt)],
      [`${result.rate}/s`, "attempt start to arrival", ...summaryCells(result.stages.attemptToArrival)]
    ])
  ))
  console.log("")
  console.log("CPU time from the first publish of a rate until its last delivery was recorded, per delivery:")
  console.log("")
  console.log(markdownTable(
    ["offered rate", ...cpuHeader],
    results.map((result) => [`${result.rate}/s`, ...cpuCells(result.cpu, result.published.records.length)])
  ))
  console.log("")
  console.log("Publisher, per rate: time from the call of each publish to its commit, the wait for a pooled connection")
  console.log("included, the largest delay of a start behind its schedule, and the publisher's event-loop delay, which")
  console.log("delays commit timestamps by as much.")
  console.log("")
  console.log(markdownTable(
    ["offered rate", "events", "failed", "commit median ms", "commit P99 ms", "max start lag ms", "loop delay P99 ms", "loop delay max ms"],
    results.map((result) => [
      `${result.rate}/s`,
      formatCount(result.published.records.length),
      formatCount(result.published.failures),
      formatMs(result.commit.median),
      formatMs(result.commit.p99),
      formatMs(result.published.timing.maxStartLagMs),
      formatMs(result.published.loopDelay.p99Ms),
      formatMs(result.published.loopDelay.maxMs)
    ])
  ))
  for (const result of results) {
    if (result.published.firstError !== undefined) console.log(`First publishing error at ${result.rate}/s: ${result.published.firstError}`)
  }
  console.log("")
  console.log(
    `Receiver: ${formatCount(counters.valid)} valid requests, ${formatCount(counters.invalid)} with an invalid signature, ` +
      `${formatCount(book.duplicates)} repeated deliveries; deliveries in the database: ` +
      Object.entries(statuses).map(([status, count]) => `${formatCount(count)} ${status}`).join(", ")
  )
  console.log("")
  const atGoal = results.find((result) => result.rate === goalRate)
  const goals: Array<GoalLine> = [{
    goal: `P99 commit to arrival at most ${goalP99Ms} ms at ${goalRate}/s`,
    measured: atGoal === undefined ? `${goalRate} is not among --rates` : `${formatMs(atGoal.latency.p99)} ms`,
    met: atGoal === undefined ? undefined : atGoal.latency.p99 <= goalP99Ms
  }]
  printGoals(goals)
  console.log("")
  printMachine("after")
  if (counters.invalid > 0) throw new Error(`${counters.invalid} deliveries had an invalid signature.`)
}

await runBenchmark(main, async () => {
  await environment?.stop()
  await receiver?.close()
})
