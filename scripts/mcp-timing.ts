/**
 * Measures the MCP server. Part 1 times a new client on each transport from
 * connect to the end of its first tool call. Part 2 counts the tool calls
 * per second that one SSE session sustains, next to the same request over
 * REST.
 *
 *   npm run bench:mcp -- --repetitions 30 --duration 10
 *
 * Starts the service as a child process under Node, with an embedded
 * PostgreSQL in a temporary folder (DATABASE_URL is ignored) and the
 * per-token rate limits raised, so that no phase gets a 429 response. Creates a
 * company with a rep, a scenario and `--sessions` scored sessions. Every
 * MCP client is the official SDK client, and every tool call is
 * `list_recent_sessions` with `limit` 20.
 *
 * Part 1 runs, for each transport, `--warmups` and then `--repetitions` new
 * clients, one after another, each timed from `connect` (which includes
 * the initialize exchange) to the end of its first tool call. For stdio,
 * `connect` starts `node dist/saleslab-mcp.js`, which calls the REST API.
 *
 * In part 2, for each `--concurrency`, one client on one session keeps that
 * many calls in flight for `--duration` seconds. The baseline, measured in
 * the same run at the same concurrency, is `GET /v1/sessions?limit=20` with
 * `fetch`, which keeps its connections alive. One Streamable HTTP client is
 * measured the same way. All traffic stays on 127.0.0.1, and every phase is
 * bounded in time.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"
import { requestTimeoutMs } from "./support/api.ts"
import { type ClosedLoopResult, runClosedLoop } from "./support/closedLoop.ts"
import { type CpuUse, startCpuMeter } from "./support/cpu.ts"
import {
  callToolOrThrow,
  makeTransport,
  type McpTransportKind,
  mcpTransportKinds,
  newClient,
  stdioBinaryPath,
  transportLabels
} from "./support/mcpClients.ts"
import { createScoredTenant, mcpServiceEnv, newServiceSecrets, type ScoredTenant } from "./support/mcpTenant.ts"
import { readFlags } from "./support/options.ts"
import { formatCount, formatLoad, formatMs, formatRate, formatRatio, machineLine, markdownTable, printSettings, summarize, type Summary } from "./support/report.ts"
import { type RunningService, startService } from "./support/service.ts"

const flags = readFlags("bench:mcp", {
  repetitions: { kind: "integer", default: 30, min: 1, max: 1000, description: "new clients timed per transport" },
  warmups: { kind: "integer", default: 3, min: 0, max: 100, description: "new clients per transport before the timed ones, not reported" },
  duration: { kind: "integer", default: 10, min: 1, max: 600, description: "seconds each throughput phase lasts" },
  "throughput-warmup": { kind: "integer", default: 2, min: 0, max: 60, description: "seconds of calls before each throughput phase, not reported" },
  concurrency: { kind: "integers", default: [1, 8], min: 1, max: 64, description: "calls in flight on one session, one throughput phase each" },
  sessions: { kind: "integer", default: 20, min: 1, max: 100, description: "scored sessions created before measuring" }
})

/** Per-token limits of the service under test, far above what the phases send. */
const rateLimit = { perMinute: 100_000_000, perDay: 100_000_000 }

/** Page size of every measured request: the default of `list_recent_sessions`, which allows at most 100. */
const pageSize = 20

const progress = (line: string) => console.log(`> ${line}`)

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * Counts Node's `MaxListenersExceededWarning` instead of printing each one,
 * and prints every other warning as Node does. Returns a function that
 * returns the count so far.
 *
 * The SDK's SSE and Streamable HTTP client transports pass one `AbortSignal`
 * to every `fetch`. Node's fetch removes its abort listener from that signal
 * only once the request is garbage-collected, so a busy session passes the
 * limit of 1,500 listeners that fetch sets on the signal.
 */
const countListenerWarnings = (): (() => number) => {
  let count = 0
  process.removeAllListeners("warning")
  process.on("warning", (warning) => {
    if (warning.name === "MaxListenersExceededWarning") count++
    else console.error(`${warning.name}: ${warning.message}`)
  })
  return () => count
}

const sdkVersion = (): string => {
  const path = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/sdk/package.json", import.meta.url))
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version
}

/** Connect and first-call times of one transport, in milliseconds. */
interface FirstCallTimes {
  readonly kind: McpTransportKind
  readonly connect: Summary
  readonly call: Summary
  readonly total: Summary
}

/** Result of one throughput phase: one path at one concurrency. */
interface ThroughputPhase {
  readonly path: "REST" | McpTransportKind
  readonly concurrency: number
  readonly result: ClosedLoopResult
  readonly cpu: CpuUse
}

/**
 * Connects a new client over `kind`, calls `list_recent_sessions` once and
 * closes the client. Returns the time of the connect, which includes the
 * initialize exchange, and of the call.
 */
const timeNewClient = async (kind: McpTransportKind, baseUrl: string, token: string) => {
  const stderrLines: Array<string> = []
  const client = newClient()
  try {
    const started = performance.now()
    await client.connect(makeTransport(kind, baseUrl, token, stderrLines))
    const connected = performance.now()
    await callToolOrThrow(client, "list_recent_sessions", { limit: pageSize })
    const ended = performance.now()
    return { connectMs: connected - started, callMs: ended - connected }
  } catch (error) {
    const stderr = stderrLines.length === 0 ? "" : `\nLast stderr lines of the stdio binary:\n${stderrLines.join("\n")}`
    throw new Error(`A new ${transportLabels[kind]} client failed: ${errorMessage(error)}${stderr}`)
  } finally {
    await client.close()
  }
}

const measureFirstCalls = async (kind: McpTransportKind, baseUrl: string, token: string): Promise<FirstCallTimes> => {
  progress(`${transportLabels[kind]}: ${flags.warmups} warm-up and ${flags.repetitions} timed clients, connect to the end of the first call`)
  for (let index = 0; index < flags.warmups; index++) await timeNewClient(kind, baseUrl, token)
  const connect: Array<number> = []
  const call: Array<number> = []
  for (let index = 0; index < flags.repetitions; index++) {
    const times = await timeNewClient(kind, baseUrl, token)
    connect.push(times.connectMs)
    call.push(times.callMs)
  }
  const total = summarize(connect.map((connectMs, index) => connectMs + call[index]!))
  progress(`${transportLabels[kind]}: median ${formatMs(total.median)} ms, P90 ${formatMs(total.p90)} ms`)
  return { kind, connect: summarize(connect), call: summarize(call), total }
}

/**
 * Fetches `GET /v1/sessions` with the measured page size and parses the body
 * as a client would. Throws when the status is not 200.
 */
const fetchSessionsPage = async (baseUrl: string, token: string): Promise<unknown> => {
  const response = await fetch(`${baseUrl}/v1/sessions?limit=${pageSize}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(requestTimeoutMs)
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`GET /v1/sessions?limit=${pageSize} returned ${response.status}: ${text.slice(0, 200)}`)
  return JSON.parse(text)
}

/** Returns the REST call of the throughput phases. */
const restCall = (baseUrl: string, token: string) => async (): Promise<void> => {
  await fetchSessionsPage(baseUrl, token)
}

const mcpCall = (client: Client) => async (): Promise<void> => {
  await callToolOrThrow(client, "list_recent_sessions", { limit: pageSize })
}

/** Runs `call` for the warm-up, not reported, and then for the measured phase, with the service's CPU time. */
const runPhase = async (
  service: RunningService,
  path: ThroughputPhase["path"],
  concurrency: number,
  call: () => Promise<void>
): Promise<ThroughputPhase> => {
  const label = path === "REST" ? `REST GET /v1/sessions?limit=${pageSize}` : transportLabels[path]
  progress(`${label}, ${concurrency} in flight: ${flags["throughput-warmup"]} s warm-up, then ${flags.duration} s`)
  if (flags["throughput-warmup"] > 0) await runClosedLoop(concurrency, flags["throughput-warmup"] * 1000, call)
  const stopCpuMeter = startCpuMeter(service.pid)
  const result = await runClosedLoop(concurrency, flags.duration * 1000, call)
  const cpu = stopCpuMeter()
  progress(`${label}, ${concurrency} in flight: ${formatRate(result.callsPerSecond)} calls per second, ${result.failures} failed`)
  return { path, concurrency, result, cpu }
}

/** Connects one client over `kind`, which the throughput phases share. */
const connectSession = async (kind: McpTransportKind, baseUrl: string, token: string): Promise<Client> => {
  const client = newClient()
  await client.connect(makeTransport(kind, baseUrl, token))
  return client
}

/**
 * Returns whether one call over each of `clients` returns the same page
 * as `GET /v1/sessions`, and prints the transports that differ.
 */
const comparePages = async (clients: ReadonlyArray<readonly [McpTransportKind, Client]>, baseUrl: string, token: string) => {
  const rest = await fetchSessionsPage(baseUrl, token)
  let same = true
  for (const [kind, client] of clients) {
    const result = await callToolOrThrow(client, "list_recent_sessions", { limit: pageSize })
    if (!isDeepStrictEqual(result.structuredContent, rest)) {
      console.error(`${transportLabels[kind]} returned another page than GET /v1/sessions: ${JSON.stringify(result.structuredContent).slice(0, 300)}`)
      same = false
    }
  }
  return same
}

const connectPart: Record<McpTransportKind, string> = {
  "streamable-http": "connect: initialize and initialized, one POST each",
  sse: "connect: open the stream, then initialize and initialized",
  stdio: "connect: start the Node process, then initialize and initialized"
}

const printFirstCalls = (results: ReadonlyArray<FirstCallTimes>) => {
  console.log("")
  console.log(`### A new client: connect to the end of its first tool call (${flags.repetitions} clients per transport)`)
  console.log("")
  console.log(markdownTable(
    ["transport", "part", "count", "median ms", "P90 ms", "max ms"],
    results.flatMap((result) => {
      const row = (part: string, summary: Summary) => [
        transportLabels[result.kind],
        part,
        formatCount(summary.count),
        formatMs(summary.median),
        formatMs(summary.p90),
        formatMs(summary.max)
      ]
      return [
        row(connectPart[result.kind], result.connect),
        row("first call: list_recent_sessions", result.call),
        row("connect + first call", result.total)
      ]
    })
  ))
}

const throughputPathLabels: Record<ThroughputPhase["path"], string> = {
  REST: `REST GET /v1/sessions?limit=${pageSize} (baseline)`,
  sse: "MCP over SSE, one session",
  "streamable-http": "MCP over Streamable HTTP, one client (stateless)",
  stdio: "MCP over stdio, one process"
}

const printThroughput = (phases: ReadonlyArray<ThroughputPhase>) => {
  const restRate = (concurrency: number) =>
    phases.find((phase) => phase.path === "REST" && phase.concurrency === concurrency)?.result.callsPerSecond ?? Number.NaN
  const perCall = (ms: number, phase: ThroughputPhase) => formatMs(ms / Math.max(1, phase.result.calls + phase.result.failures))
  console.log("")
  console.log(`### Calls per second on one session (${flags.duration} s per phase, page of ${pageSize} sessions)`)
  console.log("")
  console.log(markdownTable(
    [
      "path",
      "in flight",
      "calls",
      "failed",
      "calls per second",
      "median ms",
      "P90 ms",
      "MCP / REST",
      "service CPU ms per call",
      "PostgreSQL CPU ms per call",
      "client CPU ms per call"
    ],
    phases.map((phase) => [
      throughputPathLabels[phase.path],
      String(phase.concurrency),
      formatCount(phase.result.calls),
      formatCount(phase.result.failures),
      formatRate(phase.result.callsPerSecond),
      formatMs(phase.result.latency.median),
      formatMs(phase.result.latency.p90),
      phase.path === "REST" ? "" : formatRatio(phase.result.callsPerSecond / restRate(phase.concurrency)),
      perCall(phase.cpu.serviceMs, phase),
      perCall(phase.cpu.databaseMs, phase),
      perCall(phase.cpu.benchmarkMs, phase)
    ])
  ))
  for (const phase of phases) {
    if (phase.result.firstError !== undefined) console.log(`First error of ${phase.path} at ${phase.concurrency} in flight: ${phase.result.firstError}`)
  }
}

const measure = async (service: RunningService, tenant: ScoredTenant): Promise<boolean> => {
  const { baseUrl } = service
  const firstCalls: Array<FirstCallTimes> = []
  for (const kind of mcpTransportKinds) firstCalls.push(await measureFirstCalls(kind, baseUrl, tenant.token))

  const sse = await connectSession("sse", baseUrl, tenant.token)
  const streamable = await connectSession("streamable-http", baseUrl, tenant.token)
  const phases: Array<ThroughputPhase> = []
  let samePages: boolean
  try {
    samePages = await comparePages([["sse", sse], ["streamable-http", streamable]], baseUrl, tenant.token)
    for (const concurrency of flags.concurrency) {
      phases.push(await runPhase(service, "REST", concurrency, restCall(baseUrl, tenant.token)))
      phases.push(await runPhase(service, "sse", concurrency, mcpCall(sse)))
      phases.push(await runPhase(service, "streamable-http", concurrency, mcpCall(streamable)))
    }
  } finally {
    await sse.close()
    await streamable.close()
  }

  console.log("")
  console.log("## MCP timing")
  console.log("")
  printSettings({
    "scored sessions": `${flags.sessions}, of one rep, and every request asks for a page of ${pageSize}`,
    "new clients per transport": `${flags.repetitions} timed after ${flags.warmups} warm-up`,
    "throughput phase": `${flags.duration} s after ${flags["throughput-warmup"]} s of warm-up, at ${flags.concurrency.join(" and ")} in flight`,
    "rate limits of the service": `RATE_LIMIT_PER_MINUTE and RATE_LIMIT_PER_DAY raised to ${formatCount(rateLimit.perMinute)}`,
    "service": "node dist/main.js, LOG_LEVEL=warning, embedded PostgreSQL",
    "MCP client": `@modelcontextprotocol/sdk ${sdkVersion()} Client; stdio runs ${stdioBinaryPath.replace(/.*\/dist\//, "dist/")}`
  })
  printFirstCalls(firstCalls)
  printThroughput(phases)

  if (listenerWarnings() > 0) {
    console.log("")
    console.log(
      `This process counted ${formatCount(listenerWarnings())} MaxListenersExceededWarning warnings, because the SDK ` +
        "client's transports add an abort listener per request to one signal, which stays until the request is garbage-collected."
    )
  }

  const failures = phases.reduce((sum, phase) => sum + phase.result.failures, 0)
  console.log("")
  console.log(markdownTable(["check", "measured", "result"], [
    ["list_recent_sessions over SSE and Streamable HTTP returns the page of GET /v1/sessions", samePages ? "same page" : "different", samePages ? "met" : "not met"],
    ["no call of the throughput phases failed", `${formatCount(failures)} failed`, failures === 0 ? "met" : "not met"]
  ]))
  return samePages && failures === 0
}

const listenerWarnings = countListenerWarnings()
console.log(`Machine: ${machineLine()}`)
console.log(`Load average (1 / 5 / 15 min) before the run: ${formatLoad()}`)
progress("Starting the service under Node with an embedded PostgreSQL, per-token rate limits raised")
const secrets = newServiceSecrets()
let exitCode = 1
let service: RunningService | undefined
try {
  service = await startService({ runtime: "node", env: mcpServiceEnv(secrets, rateLimit) })
  const tenant = await createScoredTenant({ baseUrl: service.baseUrl, secrets, sessions: flags.sessions, onStep: progress })
  exitCode = (await measure(service, tenant)) ? 0 : 1
  console.log("")
  console.log(`Load average (1 / 5 / 15 min) after the run: ${formatLoad()}`)
} catch (error) {
  console.error(`Benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  if (service !== undefined) console.error(`Last service output:\n${service.recentOutput()}`)
} finally {
  await service?.stop()
}
process.exit(exitCode)
