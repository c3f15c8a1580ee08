/**
 * Measures isolation between subscriptions: the delivery latency of healthy
 * endpoints while one endpoint stalls past the delivery timeout, against
 * all-healthy runs of the same load in the same script.
 *
 *   npm run bench:isolation -- --subscriptions 100 --rate 200 --duration 15 --rounds 2
 *
 * Starts the service under Node with an embedded PostgreSQL in a temporary
 * folder and creates `--subscriptions` healthy subscriptions plus one more,
 * each in a tenant of its own. Events are published through the project's
 * `Outbox` from this process, open-loop at `--rate`, round-robin over all
 * of them. In an all-healthy run every subscription points at the healthy
 * endpoint of the receiver. Before a stalled run, the extra subscription is
 * moved through `PATCH /v1/webhooks/{id}` to an endpoint that reads each
 * request and never responds, so every attempt to it runs into the 8 s
 * delivery timeout. Each of the `--rounds` rounds has one run of each kind,
 * the all-healthy run first in odd rounds and last in even ones. The runs
 * report the latency from commit to arrival of the healthy subscriptions
 * only, and the goal compares the P99 over all runs of each kind. All
 * traffic stays on 127.0.0.1.
 */
import { ApiClient } from "./support/api.ts"
import type { SetupMethod } from "./support/benchSubscriptions.ts"
import { cpuCells, cpuHeader, type CpuUse, startCpuMeter } from "./support/cpu.ts"
import { type BenchEnvironment, environmentFlags, environmentOptions, environmentSettings, printMachine, progress, runBenchmark, startBenchEnvironment } from "./support/deliveryBench.ts"
import { commitToArrival, describeLatency, EventBook, publishAtRate, type PublishPhase, waitForArrivals, waitForRecords } from "./support/loadPhase.ts"
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
  summaryCells,
  summaryHeader
} from "./support/report.ts"
import { startTimedReceiver, type TimedReceiver } from "./support/timedReceiver.ts"

/** The goal: the healthy endpoints' P99 with a stalled endpoint at most this factor of the all-healthy P99. */
const goalFactor = 1.2

const flags = readFlags("bench:isolation", {
  subscriptions: { kind: "integer", default: 100, min: 1, max: 20_000, description: "healthy subscriptions; one more is the stalled one" },
  rate: { kind: "integer", default: 200, min: 1, max: 5000, description: "events per second over all subscriptions, the stalled one included" },
  duration: { kind: "integer", default: 15, min: 1, max: 600, description: "seconds of each run; above 8 the stalled attempts time out during the run" },
  rounds: { kind: "integer", default: 2, min: 1, max: 20, description: "rounds of one all-healthy and one stalled run, in alternating order" },
  warmup: { kind: "integer", default: 10, min: 0, max: 120, description: "seconds at the rate before the first run, not reported" },
  setup: { kind: "choice", default: "api" as SetupMethod, choices: ["api", "sql"] as Array<SetupMethod>, description: "create subscriptions through the REST API or with SQL inserts" },
  ...environmentFlags,
  "drain-timeout": { kind: "integer", default: 60, min: 1, max: 600, description: "seconds to wait for the last deliveries of a run" }
})

let receiver: TimedReceiver | undefined
let environment: BenchEnvironment | undefined

const main = async () => {
  printMachine("before")
  receiver = await startTimedReceiver()
  environment = await startBenchEnvironment({
    receiver,
    subscriptions: flags.subscriptions + 1,
    setup: flags.setup,
    ...environmentOptions(flags)
  })
  const active = environment
  const timed = receiver
  const book = new EventBook(timed)
  const targets = active.subscriptions
  const stalledIndex = targets.length - 1
  const stalled = active.subscriptions[stalledIndex]!
  const healthy = (record: { readonly target: number }) => record.target !== stalledIndex
  const drainMs = flags["drain-timeout"] * 1000

  type Condition = "all healthy" | "one stalled"
  interface Run {
    readonly condition: Condition
    readonly round: number
    readonly phase: PublishPhase
    readonly cpu: CpuUse
  }

  const run = async (condition: Condition, round: number): Promise<Run> => {
    const label = `Round ${round}, ${condition}`
    progress(`${label}: ${flags.rate}/s for ${flags.duration} s`)
    const stopCpuMeter = startCpuMeter(active.service.pid)
    const phase = await publishAtRate({ publisher: active.publisher, book, targets, rate: flags.rate, durationSeconds: flags.duration })
    const missing = await waitForArrivals(timed, phase.records, drainMs, healthy)
    if (missing > 0) progress(`${missing} deliveries to healthy endpoints had not arrived ${flags["drain-timeout"]} s after the last commit`)
    // The stalled subscription's rows wait for their retries, a minute or more, so only the others are awaited.
    await waitForRecords(active.publisher, drainMs, [stalled.subscriptionId])
    const cpu = stopCpuMeter()
    progress(`${label}: healthy endpoints ${describeLatency(commitToArrival(phase.records, healthy))}`)
    return { condition, round, phase, cpu }
  }

  const pointStalledSubscriptionAt = async (url: string) => {
    if (stalled.adminToken !== undefined) {
      await new ApiClient(active.service.baseUrl, stalled.adminToken).request("PATCH", `/v1/webhooks/${stalled.subscriptionId}`, 200, { url })
    } else {
      await active.publisher.query("UPDATE webhook_subscriptions SET url = $1, updated_at = now() WHERE id = $2", [url, stalled.subscriptionId])
    }
  }

  if (flags.warmup > 0) {
    progress(`Warming up at ${flags.rate}/s for ${flags.warmup} s`)
    const warmup = await publishAtRate({ publisher: active.publisher, book, targets, rate: flags.rate, durationSeconds: flags.warmup })
    await waitForArrivals(timed, warmup.records, drainMs)
    await waitForRecords(active.publisher, drainMs)
    progress(`Warm-up latency, not reported: ${describeLatency(commitToArrival(warmup.records))}`)
  }

  // Odd rounds run all healthy first and even rounds run one stalled first,
  // so that a load that drifts over the script weighs on both conditions alike.
  const runs: Array<Run> = []
  let isStalled = false
  for (let round = 1; round <= flags.rounds; round++) {
    const order: Array<Condition> = round % 2 === 1 ? ["all healthy", "one stalled"] : ["one stalled", "all healthy"]
    for (const condition of order) {
      if (condition === "one stalled" && !isStalled) {
        progress(`Pointing subscription ${stalled.subscriptionId} at the endpoint that never responds`)
        await pointStalledSubscriptionAt(timed.stallUrl)
        isStalled = true
      } else if (condition === "all healthy" && isStalled) {
        progress(`Pointing subscription ${stalled.subscriptionId} back at the healthy endpoint`)
        await pointStalledSubscriptionAt(timed.url)
        // The held requests end as connection resets, which the engine retries a minute later.
        await timed.releaseStalled()
        isStalled = false
      }
      runs.push(await run(condition, round))
    }
  }

  const stalledAttempts = await active.publisher.query<{ outcome: string; error: string | null; count: number }>(
    `SELECT a.outcome, a.error, count(*)::int AS count FROM webhook_attempts a
     JOIN webhook_deliveries d ON d.id = a.delivery_pk
     WHERE d.subscription_id = $1 GROUP BY a.outcome, a.error ORDER BY count DESC`,
    [stalled.subscriptionId]
  )
  const counters = await timed.counters()
  // The stalled requests would otherwise hold the service's shutdown until they time out.
  await timed.releaseStalled()

  const recordsOf = (condition: Condition) => runs.filter((entry) => entry.condition === condition).flatMap((entry) => entry.phase.records)
  const healthyBaseline = commitToArrival(recordsOf("all healthy"), healthy)
  const healthyWithStall = commitToArrival(recordsOf("one stalled"), healthy)
  const stalledWhenHealthy = commitToArrival(recordsOf("all healthy"), (record) => !healthy(record))

  console.log("")
  console.log("## Isolation: healthy endpoints while one endpoint stalls")
  console.log("")
  printSettings({
    subscriptions: `${flags.subscriptions} healthy + 1 stalled, one per tenant, created ${flags.setup === "api" ? "through the REST API" : "with SQL inserts"} in ${active.setupSeconds.toFixed(1)} s`,
    "offered rate": `${flags.rate}/s over all ${targets.length} subscriptions, ${formatRate(flags.rate / targets.length)}/s each`,
    runs: `${flags.rounds} rounds of one all-healthy and one stalled run, ${flags.duration} s each, after a warm-up of ${flags.warmup} s`,
    ...environmentSettings(flags),
    "receiver clock offset, subtracted from arrivals": `${formatMs(timed.offsetAtStart.offsetMs)} ms (IPC round trip ${formatMs(timed.offsetAtStart.roundTripMs)} ms)`,
    "stalled endpoint moved with": stalled.adminToken !== undefined ? "PATCH /v1/webhooks/{id}" : "an SQL update (the SQL setup has no API tokens)"
  })
  console.log("")
  console.log("Latency from commit to arrival, per run and over all runs of each condition:")
  console.log("")
  console.log(markdownTable(["run", "endpoints", "achieved rate", ...summaryHeader, "P99 / all-healthy P99"], [
    ...runs.map((entry) => [
      `round ${entry.round}, ${entry.condition}`,
      `the ${flags.subscriptions} healthy`,
      formatRate(entry.phase.achievedRate),
      ...summaryCells(commitToArrival(entry.phase.records, healthy)),
      ""
    ]),
    ["all healthy runs (baseline)", `the ${flags.subscriptions} healthy`, "", ...summaryCells(healthyBaseline), ""],
    ["all healthy runs", "the one stalled in the other runs", "", ...summaryCells(stalledWhenHealthy), ""],
    ["one stalled runs", `the ${flags.subscriptions} healthy`, "", ...summaryCells(healthyWithStall), formatRatio(healthyWithStall.p99 / healthyBaseline.p99)]
  ]))
  console.log("")
  console.log(
    `Stalled endpoint: ${formatCount(counters.stalledRequests)} requests received, ${formatCount(counters.openStalled)} held at the end. ` +
      "Attempts recorded for its subscription over the whole script: " +
      (stalledAttempts.map((row) => `${formatCount(row.count)} ${row.outcome}${row.error === null ? "" : ` (${row.error})`}`).join(", ") || "none")
  )
  console.log("")
  console.log(markdownTable(["run", ...cpuHeader, "publisher loop delay P99 ms"], runs.map((entry) => [
    `round ${entry.round}, ${entry.condition}`,
    ...cpuCells(entry.cpu, entry.phase.records.length),
    formatMs(entry.phase.loopDelay.p99Ms)
  ])))
  console.log("")
  const goals: Array<GoalLine> = [{
    goal: `healthy P99 with one endpoint stalled within ${Math.round((goalFactor - 1) * 100)} % of the all-healthy P99`,
    measured: `${formatMs(healthyWithStall.p99)} ms vs ${formatMs(healthyBaseline.p99)} ms (${formatRatio(healthyWithStall.p99 / healthyBaseline.p99)})`,
    met: healthyWithStall.p99 <= goalFactor * healthyBaseline.p99
  }]
  printGoals(goals)
  console.log("")
  printMachine("after")
  if (counters.invalid > 0) throw new Error(`${counters.invalid} deliveries had an invalid signature.`)
}

await runBenchmark(main, async () => {
  await receiver?.releaseStalled().catch(() => {})
  await environment?.stop()
  await receiver?.close()
})
