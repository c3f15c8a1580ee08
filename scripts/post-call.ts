/**
 * Measures end-to-end webhook latency: the time from just before a signed
 * ElevenLabs post-call webhook is posted to the moment a local receiver has
 * the `session.completed` delivery it causes.
 *
 *   npm run bench:post-call -- --events 1000 --rate 50
 *
 * Starts the service as a child process under Node, with an embedded
 * PostgreSQL in a temporary folder (DATABASE_URL is ignored). Sets up one
 * company, one subscription to a receiver on 127.0.0.1 and `--events`
 * started sessions, then posts one webhook per session at `--rate` per
 * second. A baseline in the same run times bare POSTs from this client to
 * the same receiver. All traffic stays on 127.0.0.1, and the run is bounded by the
 * event count and `--timeout`.
 */
import { createHmac } from "node:crypto"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { postForPrefix } from "../src/webhooks/WebhookSender.ts"
import { ApiClient, createDemoTenant, requestTimeoutMs, startPracticeCall } from "./support/api.ts"
import { loadPostCallSample, postCallBodyFor, postSignedPostCall } from "./support/postCall.ts"
import { type ReceivedDelivery, startReceiver } from "./support/receiver.ts"
import { startService } from "./support/service.ts"

const usage = "Usage: npm run bench:post-call -- [--events N (1 to 10000, default 1000)] " +
  "[--rate N per second (1 to 500, default 50)] [--timeout seconds to wait after the last post (default 60)]"

const readOptions = () => {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "1000" },
      rate: { type: "string", default: "50" },
      timeout: { type: "string", default: "60" },
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
  return {
    events: integerIn("events", values.events, 1, 10_000),
    rate: integerIn("rate", values.rate, 1, 500),
    timeoutSeconds: integerIn("timeout", values.timeout, 1, 600)
  }
}

/** Summary of a set of durations in milliseconds. Percentiles use the nearest-rank method. */
interface Summary {
  readonly count: number
  readonly median: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

const summarize = (durations: ReadonlyArray<number>): Summary => {
  const sorted = [...durations].sort((a, b) => a - b)
  const rank = (percentile: number) => sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)] ?? Number.NaN
  return { count: sorted.length, median: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) ?? Number.NaN }
}

const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - performance.now())))

/**
 * Calls `send(i)` for i from 0 to `count - 1`, starting call i at
 * `i / rate` seconds after the first, without waiting for earlier calls to
 * finish. Resolves once every call has settled.
 */
const atSteadyRate = async (count: number, rate: number, send: (index: number) => Promise<void>) => {
  const start = performance.now()
  const pending: Array<Promise<void>> = []
  for (let index = 0; index < count; index++) {
    await sleepUntil(start + (index * 1000) / rate)
    pending.push(send(index))
  }
  await Promise.all(pending)
}

/** Runs `task` on each item with at most `concurrency` in flight, and returns the results in order. */
const mapConcurrently = async <A, B>(items: ReadonlyArray<A>, concurrency: number, task: (item: A) => Promise<B>) => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

const formatMs = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1))

const printTable = (rows: ReadonlyArray<readonly [string, Summary]>) => {
  const header = ["", "count", "median ms", "P90 ms", "P99 ms", "max ms"]
  const lines = rows.map(([label, summary]) => [
    label,
    String(summary.count),
    formatMs(summary.median),
    formatMs(summary.p90),
    formatMs(summary.p99),
    formatMs(summary.max)
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)))
  for (const line of [header, ...lines]) {
    console.log(line.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  "))
  }
}

const options = readOptions()
const operatorToken = `operator-${crypto.randomUUID()}`
const elevenLabsSecret = `wsec_${crypto.randomUUID().replace(/-/g, "")}`
const progress = (line: string) => console.log(`> ${line}`)

const arrivals = new Map<string, number>()
const receiver = await startReceiver((delivery: ReceivedDelivery) => {
  if (delivery.eventKind !== "session.completed" || !delivery.signatureValid) return
  const payload = JSON.parse(delivery.body) as { session: { id: string } }
  if (!arrivals.has(payload.session.id)) arrivals.set(payload.session.id, delivery.receivedAt)
})

progress("Starting the service under Node with an embedded PostgreSQL")
const service = await startService({
  runtime: "node",
  env: {
    OPERATOR_TOKEN: operatorToken,
    ELEVENLABS_WEBHOOK_SECRET: elevenLabsSecret,
    LOG_LEVEL: "warning",
    // Setting up thousands of sessions with one token would pass the default limit of 600 requests per minute.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_DAY: "1000000"
  }
}).catch(async (error: unknown) => {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  await receiver.close()
  return process.exit(1)
})

let exitCode = 0
try {
  const tenant = await createDemoTenant({
    baseUrl: service.baseUrl,
    operatorToken,
    receiverUrl: receiver.url,
    eventKinds: ["session.completed"],
    onStep: progress
  })
  receiver.setSecret(tenant.subscriptionSecret)

  progress(`Starting ${options.events} practice sessions`)
  const api = new ApiClient(service.baseUrl, tenant.adminToken)
  const calls = await mapConcurrently(
    Array.from({ length: options.events }, (_, index) => index),
    8,
    () => startPracticeCall(api, tenant.scenarioId, tenant.userId)
  )

  progress(`Baseline: ${options.events} bare POSTs to the receiver at ${options.rate}/s`)
  const sample = loadPostCallSample()
  const baselineBody = postCallBodyFor(sample, calls[0]!)
  const baselineSignature = `sha256=${createHmac("sha256", tenant.subscriptionSecret).update(baselineBody).digest("hex")}`
  const baseline: Array<number> = []
  await atSteadyRate(options.events, options.rate, async () => {
    const started = performance.now()
    await postForPrefix({
      url: receiver.url,
      headers: { "content-type": "application/json", "x-saleslab-event": "baseline", "x-saleslab-signature": baselineSignature },
      body: baselineBody
    }, requestTimeoutMs)
    baseline.push(performance.now() - started)
  })

  progress(`Posting ${options.events} signed post-call webhooks at ${options.rate}/s`)
  const postedAt = new Map<string, number>()
  const rejected: Array<string> = []
  const firstPost = performance.now()
  await atSteadyRate(options.events, options.rate, async (index) => {
    const call = calls[index]!
    const body = postCallBodyFor(sample, call)
    postedAt.set(call.sessionId, performance.now())
    const response = await postSignedPostCall(service.baseUrl, elevenLabsSecret, body)
    if (response.status !== 200) rejected.push(`${response.status} ${response.text.slice(0, 120)}`)
  })

  progress(`Waiting up to ${options.timeoutSeconds} s for the remaining deliveries`)
  const deadline = performance.now() + options.timeoutSeconds * 1000
  while (arrivals.size < options.events && performance.now() < deadline) await sleepUntil(performance.now() + 100)

  const latencies = [...postedAt].flatMap(([sessionId, posted]) => {
    const arrived = arrivals.get(sessionId)
    return arrived === undefined ? [] : [arrived - posted]
  })
  const lastArrival = arrivals.size === 0 ? performance.now() : Math.max(...arrivals.values())
  const endToEnd = summarize(latencies)
  const bare = summarize(baseline)

  console.log("")
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
  console.log(`Run: ${options.events} events offered at ${options.rate}/s to one subscription`)
  console.log("")
  printTable([["post-call webhook to delivery", endToEnd], ["bare POST to the receiver", bare]])
  console.log("")
  console.log(`Ratio to baseline: median ${(endToEnd.median / bare.median).toFixed(1)}x, P99 ${(endToEnd.p99 / bare.p99).toFixed(1)}x`)
  console.log(
    `Throughput: ${latencies.length} deliveries in ${((lastArrival - firstPost) / 1000).toFixed(1)} s = ` +
      `${(latencies.length / ((lastArrival - firstPost) / 1000)).toFixed(1)} per second`
  )

  const missing = options.events - latencies.length
  if (rejected.length > 0) console.error(`${rejected.length} post-call webhooks were rejected, first: ${rejected[0]}`)
  if (missing > 0) console.error(`${missing} deliveries did not arrive within ${options.timeoutSeconds} s of the last post.`)
  if (rejected.length > 0 || missing > 0) exitCode = 1
} catch (error) {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  console.error(`Last service output:\n${service.recentOutput()}`)
  exitCode = 1
} finally {
  await receiver.close()
  await service.stop()
}
process.exit(exitCode)
