/**
 * Measures how delivery latency and the service's memory grow with the
 * number of subscriptions: the latency from commit to arrival at one rate
 * with 10, 1,000 and 10,000 subscriptions, and the resident set size of
 * the service process at each.
 *
 *   npm run bench:growth -- --subscriptions 10,1000,10000 --rate 100
 *
 * For each count, starts a fresh service under Node with an embedded
 * PostgreSQL in a temporary folder and creates the subscriptions, each in a
 * tenant of its own. Counts up to 1,000 are created through the REST API
 * and larger ones with SQL inserts, unless `--setup` selects one method. A warm-up publishes one event
 * to every subscription, so that every subscription has had a delivery
 * before the measured run, and at least `--warmup-events` events in all,
 * round-robin, so that a small count warms the service up as long. Then events are published through the project's `Outbox` from
 * this process, open-loop at `--rate`, round-robin over the subscriptions.
 * The baseline is the run with the smallest count, and the round trip of a
 * bare POST at the same rate is measured once for reference. All traffic
 * stays on 127.0.0.1.
 *
 * One 30-second P99 at 100 events per second rests on its 30 slowest
 * deliveries, and on a shared machine it moves by more than the 20 % that
 * the flat-latency goal allows from run to run. So `--rounds` (default 9)
 * measures every count that many times, the counts in turn. A slow spell
 * of the machine can last a whole round and raise the P99 of every count in
 * it. So the goal compares counts within a round: for each count, it takes
 * the median over the rounds of its P99 divided by the P99 at the smallest
 * count in the same round.
 */
import type { SetupMethod } from "./support/benchSubscriptions.ts"
import { cpuCells, cpuHeader, type CpuUse, startCpuMeter } from "./support/cpu.ts"
import { type BenchEnvironment, environmentFlags, environmentOptions, environmentSettings, printMachine, progress, runBenchmark, startBenchEnvironment } from "./support/deliveryBench.ts"
import { type BaselinePhase, commitToArrival, describeLatency, EventBook, postAtRate, publishAtRate, type PublishPhase, waitForArrivals, waitForRecords } from "./support/loadPhase.ts"
import { readFlags } from "./support/options.ts"
import {
  formatCount,
  formatMs,
  formatRate,
  formatRatio,
  type GoalLine,
  markdownTable,
  median,
  printGoals,
  printSettings,
  type Summary,
  summaryCells,
  summaryHeader
} from "./support/report.ts"
import { formatMegabytes, readRss, sampleRss } from "./support/rss.ts"
import { startTimedReceiver, type TimedReceiver } from "./support/timedReceiver.ts"

/** The memory goal: at most this RSS, in bytes, at `goalSubscriptions`. */
const goalRssBytes = 250e6
const goalSubscriptions = 10_000
/** Counts up to this one are created through the REST API under `--setup auto`. */
const apiSetupLimit = 1_000

const flags = readFlags("bench:growth", {
  subscriptions: { kind: "integers", default: [10, 1_000, 10_000], min: 1, max: 50_000, description: "subscription counts to measure, each on a fresh service" },
  rate: { kind: "integer", default: 100, min: 1, max: 5000, description: "events per second over all subscriptions" },
  duration: { kind: "integer", default: 30, min: 1, max: 600, description: "seconds of the measured run at each count" },
  rounds: {
    kind: "integer",
    default: 9,
    min: 1,
    max: 20,
    description: "rounds over every count, each count on a fresh service in each round. The flat-latency goal uses the median of the rounds' P99 ratios"
  },
  "warmup-rate": { kind: "integer", default: 200, min: 0, max: 5000, description: "events per second of the warm-up, one event per subscription; 0 skips it" },
  "warmup-events": {
    kind: "integer",
    default: 2_000,
    min: 0,
    max: 1_000_000,
    description: "minimum number of warm-up events, round-robin over the subscriptions, when there are fewer subscriptions"
  },
  "max-rss": {
    kind: "integer",
    default: 4000,
    min: 100,
    max: 100_000,
    description: "megabytes of service RSS past which the service is killed and its count reported as stopped"
  },
  "warmup-timeout": { kind: "integer", default: 600, min: 1, max: 3600, description: "seconds to wait for the warm-up's deliveries" },
  "baseline-duration": { kind: "integer", default: 10, min: 1, max: 600, description: "seconds of bare POSTs at the rate, measured once" },
  "flat-tolerance": { kind: "integer", default: 20, min: 0, max: 1000, description: "percent by which the higher of two P99s, a count's and the smallest count's, may exceed the lower and still count as flat" },
  setup: {
    kind: "choice",
    default: "auto" as SetupMethod | "auto",
    choices: ["auto", "api", "sql"] as Array<SetupMethod | "auto">,
    description: `create subscriptions through the REST API, with SQL inserts, or auto: the API up to ${apiSetupLimit} and SQL above`
  },
  ...environmentFlags,
  "drain-timeout": { kind: "integer", default: 120, min: 1, max: 600, description: "seconds to wait for the last deliveries of a run" }
})

interface CountResult {
  /** Round of the measurement, from 1. */
  readonly round: number
  readonly subscriptions: number
  readonly setup: SetupMethod
  readonly setupSeconds: number
  /** Committed events per second of the measured run, NaN when it did not run. */
  readonly achievedRate: number
  readonly loopDelayP99Ms: number
  /** Events of the measured run. */
  readonly deliveries: number
  readonly latency: Summary
  readonly rssAtStart: number
  readonly rssAfterSetup: number
  /** Largest sample during the warm-up, NaN without one. */
  readonly rssWarmupMax: number
  /** Largest sample from the start of the measured run to its last record. */
  readonly rssMax: number
  readonly rssAtEnd: number
  /** The RSS sample past `--max-rss` at which the service was killed, if one was. */
  readonly stoppedAtRss: number | undefined
  /** CPU time from the first publish of the measured run until its last delivery was recorded. */
  readonly cpu: CpuUse
  /** Deliveries that arrived more than once, warm-up included. */
  readonly repeated: number
  /** Delivery rows with more than one recorded attempt, warm-up included; NaN when the service was killed. */
  readonly retried: number
  /** Attempts of the rows with more than one, counted by attempt number, outcome and error. */
  readonly retriedAttempts: ReadonlyArray<string>
}

let receiver: TimedReceiver | undefined
let environment: BenchEnvironment | undefined

const measureCount = async (timed: TimedReceiver, book: EventBook, round: number, count: number, withBaseline: boolean) => {
  let setup: SetupMethod = count <= apiSetupLimit ? "api" : "sql"
  if (flags.setup !== "auto") setup = flags.setup
  let rssAtStart = Number.NaN
  environment = await startBenchEnvironment({
    receiver: timed,
    subscriptions: count,
    setup,
    ...environmentOptions(flags),
    onServiceReady: (service) => {
      rssAtStart = readRss(service.pid) ?? Number.NaN
    }
  })
  const active = environment
  const drainMs = flags["drain-timeout"] * 1000
  const repeatedBefore = book.duplicates

  // Guards the shared machine: a service past --max-rss is killed, and the
  // steps below stop early and report what they measured until then.
  let stoppedAtRss: number | undefined
  const guard = sampleRss(active.service.pid, 200, (rss) => {
    if (stoppedAtRss !== undefined || rss <= flags["max-rss"] * 1e6) return
    stoppedAtRss = rss
    progress(`The service's RSS reached ${formatMegabytes(rss)}, past --max-rss ${flags["max-rss"]} MB: killing it`)
    active.service.killNow()
  })
  const stopped = () => stoppedAtRss !== undefined
  const unlessStopped = async (step: () => Promise<unknown>) => {
    if (stopped()) return
    await step().catch((error: unknown) => {
      if (!stopped()) throw error
    })
  }

  try {
    const rssAfterSetup = readRss(active.service.pid) ?? Number.NaN

    let baseline: BaselinePhase | undefined
    if (withBaseline) {
      progress(`Baseline: bare POSTs at ${flags.rate}/s for ${flags["baseline-duration"]} s`)
      baseline = await postAtRate({ receiver: timed, book, targets: active.subscriptions, rate: flags.rate, durationSeconds: flags["baseline-duration"] })
    }

    let rssWarmupMax = Number.NaN
    if (flags["warmup-rate"] > 0) {
      const warmupEvents = Math.max(count, flags["warmup-events"])
      progress(`Warming up: ${formatCount(warmupEvents)} events over the ${count} subscriptions at ${flags["warmup-rate"]}/s`)
      const warmupSampler = sampleRss(active.service.pid)
      const warmup = await publishAtRate({
        publisher: active.publisher,
        book,
        targets: active.subscriptions,
        rate: flags["warmup-rate"],
        durationSeconds: warmupEvents / flags["warmup-rate"],
        shouldStop: stopped
      })
      await waitForArrivals(timed, warmup.records, flags["warmup-timeout"] * 1000, undefined, stopped)
      await unlessStopped(() => waitForRecords(active.publisher, flags["warmup-timeout"] * 1000))
      rssWarmupMax = warmupSampler.stop().max
      progress(`Warm-up latency, not reported: ${describeLatency(commitToArrival(warmup.records))}; RSS max ${formatMegabytes(rssWarmupMax)}`)
    }

    const sampler = sampleRss(active.service.pid)
    const stopCpuMeter = startCpuMeter(active.service.pid)
    let published: PublishPhase | undefined
    if (!stopped()) {
      progress(`Publishing at ${flags.rate}/s for ${flags.duration} s`)
      published = await publishAtRate({
        publisher: active.publisher,
        book,
        targets: active.subscriptions,
        rate: flags.rate,
        durationSeconds: flags.duration,
        shouldStop: stopped
      })
      const missing = await waitForArrivals(timed, published.records, drainMs, undefined, stopped)
      if (missing > 0) progress(`${missing} deliveries had not arrived ${flags["drain-timeout"]} s after the last commit`)
      await unlessStopped(() => waitForRecords(active.publisher, drainMs))
    }
    const cpu = stopCpuMeter()
    const samples = sampler.stop()
    let retried = Number.NaN
    let retriedAttempts: ReadonlyArray<string> = []
    await unlessStopped(async () => {
      const rows = await active.publisher.query<{ count: number }>("SELECT count(*)::int AS count FROM webhook_deliveries WHERE attempts > 1")
      retried = rows[0]?.count ?? 0
      const attempts = await active.publisher.query<{ attempt: number; outcome: string; error: string | null; count: number }>(
        `SELECT a.attempt, a.outcome, a.error, count(*)::int AS count
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_pk
         WHERE d.attempts > 1 GROUP BY a.attempt, a.outcome, a.error ORDER BY a.attempt, count DESC`
      )
      retriedAttempts = attempts.map((row) => `attempt ${row.attempt}: ${row.count} ${row.outcome}${row.error === null ? "" : ` (${row.error})`}`)
    })
    const latency = commitToArrival(published?.records ?? [])
    progress(`${count} subscriptions: ${describeLatency(latency)}; RSS max ${formatMegabytes(samples.max)}`)

    const result: CountResult = {
      round,
      subscriptions: count,
      setup,
      setupSeconds: active.setupSeconds,
      achievedRate: published?.achievedRate ?? Number.NaN,
      loopDelayP99Ms: published?.loopDelay.p99Ms ?? Number.NaN,
      deliveries: published?.records.length ?? 0,
      latency,
      rssAtStart,
      rssAfterSetup,
      rssWarmupMax,
      rssMax: samples.max,
      rssAtEnd: samples.last,
      stoppedAtRss,
      cpu,
      repeated: book.duplicates - repeatedBefore,
      retried,
      retriedAttempts
    }
    return { result, baseline }
  } finally {
    guard.stop()
    await active.stop()
    environment = undefined
  }
}

/** Describes the RSS figures, one per round, that the RSS goal line is checked against. */
const describeRss = (atGoal: ReadonlyArray<CountResult>, largestCount: number): string => {
  if (atGoal.length === 0) return `${goalSubscriptions} is not among --subscriptions (largest ${largestCount})`
  const killed = atGoal.find((result) => result.stoppedAtRss !== undefined)
  if (killed !== undefined) return `killed at ${formatMegabytes(killed.stoppedAtRss!)} in round ${killed.round}, past --max-rss`
  const highest = atGoal.reduce((high, result) => (result.rssMax > high.rssMax ? result : high))
  return `max ${formatMegabytes(highest.rssMax)} (round ${highest.round}), at the end ${formatMegabytes(highest.rssAtEnd)}`
}

/** P99 of the smallest count in one round, the reference of that round's ratios. */
const smallestP99In = (results: ReadonlyArray<CountResult>, round: number, smallestCount: number): number =>
  results.find((result) => result.round === round && result.subscriptions === smallestCount)?.latency.p99 ?? Number.NaN

const main = async () => {
  printMachine("before")
  receiver = await startTimedReceiver()
  const book = new EventBook(receiver)

  // The rounds take the counts in turn, so that a slow spell of the machine
  // falls on every count alike instead of on the one measured at that time.
  const results: Array<CountResult> = []
  let baseline: BaselinePhase | undefined
  for (let round = 1; round <= flags.rounds; round++) {
    for (const count of flags.subscriptions) {
      progress(`--- ${count} subscriptions, round ${round} of ${flags.rounds} ---`)
      const measured = await measureCount(receiver, book, round, count, baseline === undefined)
      results.push(measured.result)
      baseline ??= measured.baseline
    }
  }
  const counters = await receiver.counters()
  const counts = [...new Set(flags.subscriptions)]
  const smallestCount = Math.min(...counts)
  const roundsOf = (count: number) => results.filter((result) => result.subscriptions === count)
  /** Median P99 of the rounds of each count. */
  const medianP99 = new Map(counts.map((count) => [count, median(roundsOf(count).map((result) => result.latency.p99))]))
  /**
   * Median over the rounds of each count's P99 divided by the P99 at the
   * smallest count in the same round: the figure the flat-latency goal checks.
   */
  const medianRatio = new Map(counts.map((count) => [
    count,
    median(roundsOf(count).map((result) => result.latency.p99 / smallestP99In(results, result.round, smallestCount)))
  ]))
  const label = (result: CountResult) => flags.rounds === 1 ? String(result.subscriptions) : `${result.subscriptions}, round ${result.round}`

  console.log("")
  console.log("## Growth: latency and memory by subscription count")
  console.log("")
  printSettings({
    "offered rate": `${flags.rate}/s over all subscriptions, for ${flags.duration} s at each count`,
    rounds: `${flags.rounds}, each over every count in turn on fresh services`,
    "warm-up": flags["warmup-rate"] > 0
      ? `one event per subscription, and at least ${formatCount(flags["warmup-events"])} events, at ${flags["warmup-rate"]}/s`
      : "none",
    ...environmentSettings(flags),
    "receiver clock offset, subtracted from arrivals": `${formatMs(receiver.offsetAtStart.offsetMs)} ms (IPC round trip ${formatMs(receiver.offsetAtStart.roundTripMs)} ms)`,
    "RSS": "VmRSS of the service's Node process, sampled every 200 ms in the warm-up and from the first publish of the run to its last record"
  })
  console.log("")
  console.log(markdownTable(
    ["subscriptions", "setup", "achieved rate", ...summaryHeader, "P99 / smallest count in the round"],
    [
      ...results.map((result) => [
        label(result),
        `${result.setup === "api" ? "REST API" : "SQL"}, ${result.setupSeconds.toFixed(1)} s`,
        formatRate(result.achievedRate),
        ...summaryCells(result.latency),
        formatRatio(result.latency.p99 / smallestP99In(results, result.round, smallestCount))
      ]),
      ...(baseline === undefined ? [] : [["bare POST round trip", "", formatRate(baseline.achievedRate), ...summaryCells(baseline.roundTrip), ""]])
    ]
  ))
  console.log("")
  console.log(markdownTable(
    ["subscriptions", "RSS at start", "RSS after setup", "RSS max in the warm-up", "RSS max in the run", "RSS at the end", "publisher loop delay P99 ms", "repeated deliveries", "rows with 2+ attempts"],
    results.map((result) => [
      label(result),
      formatMegabytes(result.rssAtStart),
      formatMegabytes(result.rssAfterSetup),
      formatMegabytes(result.rssWarmupMax),
      result.stoppedAtRss === undefined ? formatMegabytes(result.rssMax) : `killed at ${formatMegabytes(result.stoppedAtRss)}`,
      formatMegabytes(result.rssAtEnd),
      formatMs(result.loopDelayP99Ms),
      String(result.repeated),
      Number.isNaN(result.retried) ? "-" : String(result.retried)
    ])
  ))
  console.log("")
  console.log(markdownTable(
    ["subscriptions", ...cpuHeader],
    results.map((result) => [label(result), ...cpuCells(result.cpu, Math.max(1, result.deliveries))])
  ))
  console.log("")
  for (const result of results.filter((result) => result.retriedAttempts.length > 0)) {
    const round = flags.rounds === 1 ? "" : `, round ${result.round}`
    console.log(`Rows with more than one attempt at ${result.subscriptions} subscriptions${round}: ${result.retriedAttempts.join("; ")}`)
  }
  console.log(`Receiver: ${counters.valid} valid requests, ${counters.invalid} with an invalid signature, ${book.duplicates} repeated deliveries`)
  console.log("")
  const tolerance = 1 + flags["flat-tolerance"] / 100
  // Flat means neither higher nor lower: the P99 ratio to the smallest count, or its inverse, within the tolerance.
  const isFlat = (count: number) => {
    const ratio = medianRatio.get(count)!
    return ratio <= tolerance && ratio >= 1 / tolerance
  }
  const largestCount = Math.max(...counts)
  const atGoal = results.filter((result) => result.subscriptions === goalSubscriptions)
  const ratioOf = flags.rounds === 1 ? "P99 at every count" : `median over ${flags.rounds} rounds of each count's P99`
  const largerCounts = counts.filter((count) => count !== smallestCount)
  const goals: Array<GoalLine> = [
    {
      goal: `flat latency: ${ratioOf} divided by the one at ${smallestCount} in the same round, between ${
        formatRatio(1 / tolerance)
      } and ${formatRatio(tolerance)}`,
      measured: counts.length < 2
        ? "give at least two counts"
        : `${largerCounts.map((count) => `${count}: ${formatRatio(medianRatio.get(count)!)}`).join(", ")} (median P99 ${
          counts.map((count) => `${count}: ${formatMs(medianP99.get(count)!)} ms`).join(", ")
        })`,
      met: counts.length < 2 ? undefined : counts.every(isFlat)
    },
    {
      goal: `RSS at most ${formatMegabytes(goalRssBytes)} at ${goalSubscriptions} subscriptions, in every round`,
      measured: describeRss(atGoal, largestCount),
      met: atGoal.length === 0 ? undefined : atGoal.every((result) => result.stoppedAtRss === undefined && result.rssMax <= goalRssBytes)
    }
  ]
  printGoals(goals)
  console.log("")
  printMachine("after")
  if (counters.invalid > 0) throw new Error(`${counters.invalid} deliveries had an invalid signature.`)
}

await runBenchmark(main, async () => {
  await environment?.stop()
  await receiver?.close()
})
