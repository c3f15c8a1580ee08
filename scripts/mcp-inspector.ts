/**
 * Smoke test of the service's MCP endpoints with the official MCP
 * Inspector in CLI mode, a client that this project does not build.
 *
 *   npm run smoke:mcp-inspector
 *
 * Starts the service as a child process under Node, with an embedded
 * PostgreSQL in a temporary folder (DATABASE_URL is ignored), and creates a
 * company with a rep, a scenario and three scored sessions. Then it runs
 * `npx -y @modelcontextprotocol/inspector@1.0.3 --cli` once per check,
 * against Streamable HTTP at `/mcp` and the legacy SSE transport at
 * `/mcp/sse`, with the company's token in an `Authorization` header. Each
 * check parses the JSON the inspector prints and compares it with the
 * REST response to the same request. Exits with 1 when any check fails, and
 * prints what failed. All traffic stays on 127.0.0.1, except the first
 * `npx` run, which installs the inspector from the npm registry when its
 * cache does not have it yet.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { isDeepStrictEqual } from "node:util"
import { ApiClient } from "./support/api.ts"
import { createScoredTenant, mcpServiceEnv, newServiceSecrets, type ScoredTenant, type ServiceSecrets } from "./support/mcpTenant.ts"
import { readFlags } from "./support/options.ts"
import { markdownTable } from "./support/report.ts"
import { type RunningService, startService } from "./support/service.ts"

/**
 * Inspector release that this script runs. Every release with the `--header`
 * flag declares Node 22 or later in `engines`, but this one runs on Node 20
 * in CLI mode. See "MCP Inspector on Node 20" in docs/design.md.
 */
const inspectorPackage = "@modelcontextprotocol/inspector@1.0.3"

const toolNames = ["query_scorecard", "list_recent_sessions", "create_scenario", "start_practice_call", "get_coaching_brief"]

const flags = readFlags("smoke:mcp-inspector", {
  timeout: {
    kind: "integer",
    default: 300,
    min: 10,
    max: 1800,
    description: "seconds one inspector run may take, the npx install of the first run included"
  },
  sessions: { kind: "integer", default: 3, min: 2, max: 20, description: "scored sessions to create before the checks" }
})

const progress = (line: string) => console.log(`> ${line}`)

type Transport = "http" | "sse"

/** Output and exit status of one inspector run. */
interface InspectorRun {
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Inspector run and the check of its output. */
interface Check {
  readonly transport: Transport
  readonly request: string
  readonly inspectorArguments: ReadonlyArray<string>
  /** Bearer token of the run: the company's token, except in the checks of a rejected token. */
  readonly token: string
  /** Returns the failure reason, or undefined when the output is correct. */
  readonly verify: (run: InspectorRun) => Promise<string | undefined>
}

interface CheckResult {
  readonly check: Check
  readonly failure: string | undefined
  readonly run: InspectorRun
  readonly seconds: number
}

/** Inspector output for `tools/call`. */
interface ToolCallOutput {
  readonly content?: ReadonlyArray<{ readonly type: string; readonly text?: string }>
  readonly structuredContent?: unknown
  readonly isError?: boolean
}

/**
 * Runs the inspector in CLI mode through npx in a process group of its
 * own, so that a run past `timeoutMs` can be killed with npx's child.
 */
const runInspector = (inspectorArguments: ReadonlyArray<string>, timeoutMs: number): Promise<InspectorRun> =>
  new Promise((resolve, reject) => {
    const child = spawn("npx", ["-y", inspectorPackage, "--cli", ...inspectorArguments], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // The group has already exited.
      }
    }, timeoutMs)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(new Error(`npx failed to start: ${error.message}. Node's npx must be on PATH.`))
    })
    child.once("close", (exitCode) => {
      clearTimeout(timer)
      resolve({ exitCode, stdout, stderr, timedOut })
    })
  })

/**
 * Parses the inspector's standard output as JSON. Returns the failure reason
 * instead when the run timed out, exited with an error or printed no JSON.
 */
const parseOutput = <A>(run: InspectorRun): { ok: true; value: A } | { ok: false; reason: string } => {
  if (run.timedOut) return { ok: false, reason: `the inspector timed out after ${flags.timeout} s` }
  if (run.exitCode !== 0) return { ok: false, reason: `the inspector exited with ${run.exitCode}` }
  try {
    return { ok: true, value: JSON.parse(run.stdout) as A }
  } catch (error) {
    return { ok: false, reason: `the output is invalid JSON (${error instanceof Error ? error.message : String(error)})` }
  }
}

/**
 * Parses a `tools/call` output and returns its `structuredContent`. Returns
 * the failure reason instead when the run failed or the tool returned an error.
 */
const parseToolResult = (run: InspectorRun): { ok: true; value: unknown } | { ok: false; reason: string } => {
  const parsed = parseOutput<ToolCallOutput>(run)
  if (!parsed.ok) return parsed
  if (parsed.value.isError === true) return { ok: false, reason: `the tool returned an error: ${parsed.value.content?.[0]?.text ?? "no text"}` }
  return { ok: true, value: parsed.value.structuredContent }
}

/** Returns why a `tools/call` output is not a successful result equal to `expected`, or undefined when it is. */
const compareToolResult = (run: InspectorRun, expected: unknown, label: string): string | undefined => {
  const result = parseToolResult(run)
  if (!result.ok) return result.reason
  if (!isDeepStrictEqual(result.value, expected)) {
    return `structuredContent differs from ${label}: ${JSON.stringify(result.value).slice(0, 300)}`
  }
  return undefined
}

const verifyToolList = async (run: InspectorRun) => {
  const parsed = parseOutput<{ tools?: ReadonlyArray<{ name: string }> }>(run)
  if (!parsed.ok) return parsed.reason
  const names = (parsed.value.tools ?? []).map((tool) => tool.name)
  return isDeepStrictEqual(names, toolNames) ? undefined : `expected the tools ${toolNames.join(", ")}, got ${names.join(", ") || "none"}`
}

const verifyRejected = async (run: InspectorRun) => {
  if (run.timedOut) return `the inspector timed out after ${flags.timeout} s`
  if (run.exitCode === 0) return "the inspector exited with 0, so the service accepted an unknown token"
  return /Unauthorized|\b401\b/.test(run.stderr) ? undefined : "the inspector failed, but its stderr contains no 401 or Unauthorized"
}

/** Returns the checks of one transport that pass with the company's token. */
const checksOf = (transport: Transport, endpoint: string, tenant: ScoredTenant, api: ApiClient): Array<Check> => {
  const target = [endpoint, "--transport", transport]
  const sessionId = tenant.sessionIds[0]!
  return [
    {
      transport,
      request: "tools/list",
      inspectorArguments: [...target, "--method", "tools/list"],
      token: tenant.token,
      verify: verifyToolList
    },
    {
      transport,
      request: "tools/call list_recent_sessions",
      inspectorArguments: [...target, "--method", "tools/call", "--tool-name", "list_recent_sessions"],
      token: tenant.token,
      verify: async (run) => {
        const rest = await api.request<{ data: Array<unknown> }>("GET", "/v1/sessions", 200)
        if (rest.data.length !== tenant.sessionIds.length) {
          return `GET /v1/sessions returned ${rest.data.length} sessions, not the ${tenant.sessionIds.length} created`
        }
        return compareToolResult(run, rest, "GET /v1/sessions")
      }
    },
    {
      transport,
      request: "tools/call list_recent_sessions user_id limit=1",
      inspectorArguments: [
        ...target,
        "--method",
        "tools/call",
        "--tool-name",
        "list_recent_sessions",
        "--tool-arg",
        `user_id=${tenant.userId}`,
        "limit=1"
      ],
      token: tenant.token,
      verify: async (run) => {
        const rest = await api.request<unknown>("GET", `/v1/sessions?user_id=${tenant.userId}&limit=1`, 200)
        return compareToolResult(run, rest, "GET /v1/sessions?user_id=...&limit=1")
      }
    },
    {
      transport,
      request: "tools/call query_scorecard session_id",
      inspectorArguments: [...target, "--method", "tools/call", "--tool-name", "query_scorecard", "--tool-arg", `session_id=${sessionId}`],
      token: tenant.token,
      verify: async (run) => {
        const rest = await api.request<unknown>("GET", `/v1/sessions/${sessionId}/scorecard`, 200)
        return compareToolResult(run, rest, `GET /v1/sessions/${sessionId}/scorecard`)
      }
    }
  ]
}

/** Returns a check that `create_scenario` stores a scenario with the prompt it was given. */
const createScenarioCheck = (transport: Transport, endpoint: string, tenant: ScoredTenant): Check => {
  const prompt = `You are Dana, a VP of operations at a ${transport} logistics firm. Push back on price.`
  return {
    transport,
    request: "tools/call create_scenario prompt",
    inspectorArguments: [endpoint, "--transport", transport, "--method", "tools/call", "--tool-name", "create_scenario", "--tool-arg", `prompt=${prompt}`],
    token: tenant.token,
    verify: async (run) => {
      const result = parseToolResult(run)
      if (!result.ok) return result.reason
      const scenario = result.value as { id?: unknown; prompt?: unknown; pass_mark?: unknown } | undefined
      if (typeof scenario?.id !== "string") return "the result has no scenario id"
      if (scenario.prompt !== prompt) return `the stored prompt is ${JSON.stringify(scenario.prompt)}, not the prompt sent`
      return scenario.pass_mark === 70 ? undefined : `the pass mark is ${String(scenario.pass_mark)}, not the default 70`
    }
  }
}

/** Returns a check that the endpoint rejects a well-formed token that no company has. */
const unknownTokenCheck = (transport: Transport, endpoint: string): Check => ({
  transport,
  request: "tools/list with an unknown token",
  inspectorArguments: [endpoint, "--transport", transport, "--method", "tools/list"],
  token: `sl_token_${randomBytes(20).toString("hex")}`,
  verify: verifyRejected
})

/** Replaces every token of the run in `text`, so that no token is printed. */
const redact = (text: string, tokens: ReadonlyArray<string>) =>
  tokens.reduce((redacted, token) => redacted.replaceAll(token, "sl_token_<redacted>"), text)

const runCheck = async (check: Check): Promise<CheckResult> => {
  const started = performance.now()
  const run = await runInspector([...check.inspectorArguments, "--header", `Authorization: Bearer ${check.token}`], flags.timeout * 1000)
  const seconds = (performance.now() - started) / 1000
  const failure = await check.verify(run).catch((error: unknown) => `the check failed: ${error instanceof Error ? error.message : String(error)}`)
  return { check, failure, run, seconds }
}

/** Quotes an argument unless it contains only shell-safe characters, so that a printed command can be pasted into a shell. */
const shellArgument = (argument: string) =>
  /^[\w@%+=:,./-]+$/.test(argument) ? argument : `'${argument.replaceAll("'", "'\\''")}'`

/**
 * Prints a failed check with the command that reproduces it. The
 * inspector's own output is printed only when the inspector failed,
 * because a wrong result is already described by the failure.
 */
const printFailure = (result: CheckResult, tokens: ReadonlyArray<string>) => {
  const command = ["npx", "-y", inspectorPackage, "--cli", ...result.check.inspectorArguments].map(shellArgument).join(" ")
  console.error(`FAILED: ${result.check.transport} ${result.check.request}: ${result.failure}`)
  console.error(`  command: ${redact(command, tokens)} --header "Authorization: Bearer $TOKEN"`)
  if (result.run.exitCode === 0 && !result.run.timedOut) return
  const stderrLines = result.run.stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("npm warn"))
  if (stderrLines.length > 0) console.error(`  inspector stderr: ${redact(stderrLines.slice(-5).join(" | "), tokens)}`)
  if (result.run.stdout.trim() !== "") console.error(`  inspector stdout: ${redact(result.run.stdout.slice(0, 500), tokens)}`)
}

/** Creates the company, runs every check and prints the results. Returns whether all checks passed. */
const runChecks = async (service: RunningService, secrets: ServiceSecrets): Promise<boolean> => {
  const tenant = await createScoredTenant({ baseUrl: service.baseUrl, secrets, sessions: flags.sessions, onStep: progress })
  const api = new ApiClient(service.baseUrl, tenant.token)
  const httpEndpoint = `${service.baseUrl}/mcp`
  const sseEndpoint = `${service.baseUrl}/mcp/sse`
  const checks = [
    ...checksOf("http", httpEndpoint, tenant, api),
    createScenarioCheck("http", httpEndpoint, tenant),
    unknownTokenCheck("http", httpEndpoint),
    ...checksOf("sse", sseEndpoint, tenant, api),
    createScenarioCheck("sse", sseEndpoint, tenant),
    unknownTokenCheck("sse", sseEndpoint)
  ]
  const tokens = [...new Set(checks.map((check) => check.token))]

  progress(`Running ${checks.length} checks with npx -y ${inspectorPackage} --cli (the first run may install it)`)
  const results: Array<CheckResult> = []
  for (const check of checks) {
    const result = await runCheck(check)
    progress(`${check.transport} ${check.request}: ${result.failure === undefined ? "passed" : "FAILED"} in ${result.seconds.toFixed(1)} s`)
    results.push(result)
  }

  console.log("")
  console.log(`## MCP Inspector smoke test (${inspectorPackage}, Node ${process.versions.node})`)
  console.log("")
  console.log(markdownTable(
    ["request", "transport", "result", "seconds"],
    results.map((result) => [
      result.check.request,
      `${result.check.transport === "http" ? "Streamable HTTP" : "SSE"} (${result.check.transport === "http" ? "/mcp" : "/mcp/sse"})`,
      result.failure === undefined ? "passed" : "failed",
      result.seconds.toFixed(1)
    ])
  ))
  console.log("")
  const failed = results.filter((result) => result.failure !== undefined)
  console.log(`${results.length - failed.length} passed, ${failed.length} failed`)
  for (const result of failed) printFailure(result, tokens)
  return failed.length === 0
}

progress("Starting the service under Node with an embedded PostgreSQL")
const secrets = newServiceSecrets()
let exitCode = 1
let service: RunningService | undefined
try {
  service = await startService({ runtime: "node", env: mcpServiceEnv(secrets) })
  exitCode = (await runChecks(service, secrets)) ? 0 : 1
} catch (error) {
  console.error(`Smoke test failed: ${error instanceof Error ? error.message : String(error)}`)
  if (service !== undefined) console.error(`Last service output:\n${service.recentOutput()}`)
} finally {
  await service?.stop()
}
process.exit(exitCode)
