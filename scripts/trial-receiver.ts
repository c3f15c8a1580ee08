/**
 * Checks that every delivery to a misbehaving receiver ends as the retry
 * rules say, and that the delivery log shows each attempt.
 *
 *   npm run trial:receiver -- --events 50
 *
 * Starts the service under Node with an embedded PostgreSQL in a temporary
 * folder (DATABASE_URL is ignored) and `WEBHOOK_TIMEOUT=1 second`, and
 * subscribes one tenant once per behaviour of a receiver on 127.0.0.1:
 * 200, 500 then 200, connection reset, no response, 400 and 302. It queues
 * `--events` test deliveries per subscription. Retryable failures are retried
 * 1 minute later and then after 5 more minutes, so after a little over a
 * minute each delivery must have settled: 2xx succeeded after one attempt,
 * 4xx and 3xx failed after one attempt, 500 then 200 succeeded on attempt 2,
 * and a reset or a timeout pending after two attempts that both wait for a
 * retry. While waiting, the script runs `POST /api/cron/sweep-deliveries`
 * every 5 seconds and reads `GET /v1/webhooks/{id}/deliveries/{delivery_id}`
 * for each delivery. Exits with 1 on any mismatch.
 */
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { ApiClient, createCompany } from "./support/api.ts"
import { mapConcurrently } from "./support/concurrency.ts"
import { startService } from "./support/service.ts"

const usage = "Usage: npm run trial:receiver -- [--events N test deliveries per behaviour (1 to 500, default 50)] " +
  "[--timeout seconds to wait for every delivery to settle (70 to 600, default 240)]"

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "50" },
    timeout: { type: "string", default: "240" },
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
const eventsPerBehaviour = integerIn("events", values.events, 1, 500)
const timeoutSeconds = integerIn("timeout", values.timeout, 70, 600)

/** A receiver behaviour on one path, with the end state its deliveries must reach. */
interface Behaviour {
  readonly name: string
  readonly path: string
  /** Status of the delivery once it has settled. */
  readonly status: "succeeded" | "failed" | "pending"
  /** Outcome of each logged attempt, in order. */
  readonly outcomes: ReadonlyArray<"succeeded" | "retry" | "failed">
  /** Status code of each logged attempt, null where no response arrived. */
  readonly statusCodes: ReadonlyArray<number | null>
}

const behaviours: ReadonlyArray<Behaviour> = [
  { name: "200", path: "/ok", status: "succeeded", outcomes: ["succeeded"], statusCodes: [200] },
  { name: "500 then 200", path: "/fail-once", status: "succeeded", outcomes: ["retry", "succeeded"], statusCodes: [500, 200] },
  { name: "connection reset", path: "/reset", status: "pending", outcomes: ["retry", "retry"], statusCodes: [null, null] },
  { name: "no response (timeout)", path: "/stall", status: "pending", outcomes: ["retry", "retry"], statusCodes: [null, null] },
  { name: "400", path: "/bad-request", status: "failed", outcomes: ["failed"], statusCodes: [400] },
  { name: "302", path: "/redirect", status: "failed", outcomes: ["failed"], statusCodes: [302] }
]

// The receiver: requests per delivery id and path, and the stalled responses to end at the close.
const requestCounts = new Map<string, number>()
const stalled = new Set<ServerResponse>()
const receiverServer = createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    const path = request.url ?? ""
    const key = `${path} ${String(request.headers["x-saleslab-delivery-id"] ?? "")}`
    const count = (requestCounts.get(key) ?? 0) + 1
    requestCounts.set(key, count)
    switch (path) {
      case "/ok":
        response.writeHead(200).end("ok")
        break
      case "/fail-once":
        response.writeHead(count === 1 ? 500 : 200).end(count === 1 ? "try again" : "ok")
        break
      case "/reset":
        request.socket.destroy()
        break
      case "/stall":
        stalled.add(response)
        response.once("close", () => stalled.delete(response))
        break
      case "/bad-request":
        response.writeHead(400).end("bad request")
        break
      case "/redirect":
        response.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end()
        break
      default:
        response.writeHead(404).end("not found")
    }
  })
})
await new Promise<void>((resolve) => receiverServer.listen(0, "127.0.0.1", () => resolve()))
const receiverUrl = `http://127.0.0.1:${(receiverServer.address() as AddressInfo).port}`
const closeReceiver = () =>
  new Promise<void>((resolve) => {
    receiverServer.closeAllConnections()
    receiverServer.close(() => resolve())
  })

const operatorToken = `operator-${crypto.randomUUID()}`
const progress = (line: string) => console.log(`> ${line}`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

progress("Starting the service with an embedded PostgreSQL and WEBHOOK_TIMEOUT=1 second")
const service = await startService({
  runtime: "node",
  env: {
    OPERATOR_TOKEN: operatorToken,
    LOG_LEVEL: "error",
    WEBHOOK_TIMEOUT: "1 second",
    // Polling the delivery log sends one request per delivery every few seconds.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_PER_DAY: "1000000"
  }
}).catch(async (error: unknown) => {
  console.error(`Trial failed: ${error instanceof Error ? error.message : String(error)}`)
  await closeReceiver()
  return process.exit(1)
})

/** One attempt as `GET /v1/webhooks/{id}/deliveries/{delivery_id}` lists it. */
interface LoggedAttempt {
  readonly attempt: number
  readonly status_code: number | null
  readonly error: string | null
  readonly outcome: string
}

/** One queued delivery and its state as last read from the delivery log. */
interface Tracked {
  readonly behaviour: Behaviour
  readonly subscriptionId: string
  readonly deliveryId: string
  status: string
  attempts: ReadonlyArray<LoggedAttempt>
}

/** Returns why `tracked` differs from what its behaviour expects, or undefined when it matches. */
const mismatchOf = (tracked: Tracked): string | undefined => {
  const { behaviour, attempts } = tracked
  if (tracked.status !== behaviour.status) return `status ${tracked.status}, expected ${behaviour.status}`
  const outcomes = attempts.map((attempt) => attempt.outcome)
  if (outcomes.join(",") !== behaviour.outcomes.join(",")) {
    return `attempt outcomes ${outcomes.join(", ") || "none"}, expected ${behaviour.outcomes.join(", ")}`
  }
  const codes = attempts.map((attempt) => attempt.status_code)
  if (codes.join(",") !== behaviour.statusCodes.join(",")) {
    return `status codes ${codes.join(", ")}, expected ${behaviour.statusCodes.join(", ")}`
  }
  if (attempts.some((attempt) => attempt.status_code === null && attempt.error === null)) {
    return "an attempt without a response logs no error"
  }
  const requests = requestCounts.get(`${behaviour.path} ${tracked.deliveryId}`) ?? 0
  if (requests !== attempts.length) return `the receiver received ${requests} requests but ${attempts.length} attempts are logged`
  return undefined
}

let exitCode = 0
try {
  const company = await createCompany(service.baseUrl, operatorToken, `Receiver Trial ${crypto.randomUUID().slice(0, 8)}`)
  const api = new ApiClient(service.baseUrl, company.adminToken)
  const operator = new ApiClient(service.baseUrl, operatorToken)

  const tracked: Array<Tracked> = []
  for (const behaviour of behaviours) {
    const subscription = await api.request<{ id: string }>("POST", "/v1/webhooks", 201, {
      url: `${receiverUrl}${behaviour.path}`,
      event_kinds: [],
      description: `Receiver trial: ${behaviour.name}`
    })
    progress(`Queueing ${eventsPerBehaviour} test deliveries to the '${behaviour.name}' receiver`)
    const deliveryIds = await mapConcurrently(Array.from({ length: eventsPerBehaviour }), 8, async () =>
      (await api.request<{ delivery_id: string }>("POST", `/v1/webhooks/${subscription.id}/test`, 202)).delivery_id)
    for (const deliveryId of deliveryIds) {
      tracked.push({ behaviour, subscriptionId: subscription.id, deliveryId, status: "pending", attempts: [] })
    }
  }

  const readLog = () =>
    mapConcurrently(tracked, 8, async (delivery) => {
      const detail = await api.request<{ status: string; attempts: Array<LoggedAttempt> }>(
        "GET",
        `/v1/webhooks/${delivery.subscriptionId}/deliveries/${encodeURIComponent(delivery.deliveryId)}`,
        200
      )
      delivery.status = detail.status
      delivery.attempts = detail.attempts
    })

  const started = performance.now()
  const elapsedSeconds = () => ((performance.now() - started) / 1000).toFixed(0)
  progress(`Waiting up to ${timeoutSeconds} s for every delivery to settle; retries come 1 minute after a failure`)
  while (performance.now() - started < timeoutSeconds * 1000) {
    await sleep(5_000)
    await operator.request("POST", "/api/cron/sweep-deliveries", 202)
    await readLog()
    const settled = behaviours.map((behaviour) => {
      const own = tracked.filter((delivery) => delivery.behaviour === behaviour)
      return `${behaviour.name}: ${own.filter((delivery) => mismatchOf(delivery) === undefined).length}/${own.length}`
    })
    console.log(`  ${elapsedSeconds()} s: settled as expected: ${settled.join(", ")}`)
    if (tracked.every((delivery) => mismatchOf(delivery) === undefined)) break
  }
  // A last read after a pause shows whether any delivery moved past its expected end state.
  await sleep(3_000)
  await readLog()

  const header = ["behaviour", "deliveries", "expected", "actual outcomes", "attempts logged", "requests received", "mismatches"]
  const rows = behaviours.map((behaviour) => {
    const own = tracked.filter((delivery) => delivery.behaviour === behaviour)
    const actual = new Map<string, number>()
    for (const delivery of own) {
      const label = `${delivery.status} (${delivery.attempts.map((attempt) => attempt.outcome).join(", ") || "no attempt"})`
      actual.set(label, (actual.get(label) ?? 0) + 1)
    }
    const logged = own.reduce((sum, delivery) => sum + delivery.attempts.length, 0)
    const received = own.reduce((sum, delivery) => sum + (requestCounts.get(`${behaviour.path} ${delivery.deliveryId}`) ?? 0), 0)
    const mismatched = own.filter((delivery) => mismatchOf(delivery) !== undefined)
    for (const delivery of mismatched.slice(0, 3)) {
      console.error(`Mismatch, '${behaviour.name}' delivery ${delivery.deliveryId}: ${mismatchOf(delivery)}`)
    }
    return [
      behaviour.name,
      String(own.length),
      `${behaviour.status} (${behaviour.outcomes.join(", ")})`,
      [...actual].map(([label, count]) => `${count} ${label}`).join("; "),
      String(logged),
      String(received),
      String(mismatched.length)
    ]
  })
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  console.log("")
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.versions.node}`)
  console.log(`Run: ${eventsPerBehaviour} test deliveries per behaviour, WEBHOOK_TIMEOUT=1 second, read after ${elapsedSeconds()} s`)
  console.log("")
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  "))

  const mismatches = tracked.filter((delivery) => mismatchOf(delivery) !== undefined).length
  if (mismatches > 0) {
    console.error(`${mismatches} deliveries did not end as the retry rules require.`)
    exitCode = 1
  }
} catch (error) {
  console.error(`Trial failed: ${error instanceof Error ? error.message : String(error)}`)
  console.error(`Last service output:\n${service.recentOutput()}`)
  exitCode = 1
} finally {
  for (const response of stalled) response.destroy()
  await closeReceiver()
  await service.stop()
}
process.exit(exitCode)
