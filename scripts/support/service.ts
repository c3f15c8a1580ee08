import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const projectRoot = fileURLToPath(new URL("../..", import.meta.url))

/** Runtime that runs the service: Node through tsx, or Deno through `deno task start`. */
export type Runtime = "node" | "deno"

/** Options of `startService`. */
export interface ServiceOptions {
  readonly runtime: Runtime
  /** Settings passed as environment variables, on top of the caller's environment less `DATABASE_URL`. */
  readonly env: Readonly<Record<string, string>>
  /**
   * `DATABASE_URL` of the service: a PostgreSQL server that the caller runs.
   * Without it the service starts an embedded PostgreSQL in a fresh
   * temporary folder.
   */
  readonly databaseUrl?: string
  /** Called with each line the service writes to stdout or stderr. */
  readonly onOutputLine?: (line: string) => void
  /** Time to wait for `/readyz`, in milliseconds. */
  readonly readyTimeoutMs?: number
}

/** A service running as a child process on a loopback port, with an embedded PostgreSQL of its own unless `databaseUrl` was given. */
export interface RunningService {
  readonly baseUrl: string
  /** Process id of the service: the Node process under `node`, the `deno task` wrapper under `deno`. */
  readonly pid: number
  /** The last lines the service wrote to stdout and stderr, for error reports. */
  readonly recentOutput: () => string
  /**
   * Returns the connection URL of the service's embedded PostgreSQL, read
   * from the port in its `postmaster.pid`, or undefined when that file is
   * missing (the server is down, or the service runs on `databaseUrl`).
   */
  readonly embeddedDatabaseUrl: () => string | undefined
  /** Stops the service with SIGTERM (SIGKILL after 30 s) and removes its data folder. */
  readonly stop: () => Promise<void>
  /** Sends SIGKILL to the service's process group, PostgreSQL included, at once; `stop` still removes the data folder. */
  readonly killNow: () => void
  /**
   * Suspends the service's process with SIGSTOP, so that deliveries queued
   * meanwhile wait as a backlog. Its embedded PostgreSQL, a process of its
   * own, keeps running. `stop` resumes a held service before it stops it.
   */
  readonly hold: () => void
  /** Resumes a held service with SIGCONT. */
  readonly resume: () => void
}

/**
 * Node's arguments that run the service as `npm start` does: the bundle
 * `dist/main.js` that `npm run build` writes, with the old generation
 * capped at 512 MB, which makes V8 collect it long before that (see
 * `docs/design.md`). `SERVICE_NODE_ARGS`, when set, adds arguments before
 * these, such as `--cpu-prof --cpu-prof-dir=/tmp/profiles` to profile the
 * service of a benchmark. A `--max-old-space-size` given there replaces
 * the default.
 */
export const serviceNodeArguments = (): Array<string> => {
  buildServiceBundle()
  const extra = (process.env.SERVICE_NODE_ARGS ?? "").split(" ").filter((argument) => argument !== "")
  const oldSpace = extra.some((argument) => argument.startsWith("--max-old-space-size")) ? [] : ["--max-old-space-size=512"]
  return [...extra, ...oldSpace, "dist/main.js"]
}

/**
 * Writes `dist/main.js` from the sources with `npm run build`, once per
 * process tree. It then sets `SERVICE_BUNDLE_BUILT`, which child processes
 * such as the test workers inherit, so that no two processes write the
 * bundle at once.
 */
export const buildServiceBundle = () => {
  if (process.env.SERVICE_BUNDLE_BUILT === "1") return
  execFileSync("npm", ["run", "build", "--silent"], { cwd: projectRoot, stdio: ["ignore", "inherit", "inherit"] })
  process.env.SERVICE_BUNDLE_BUILT = "1"
}

/** File to which `startService` appends every line the service writes, from `SERVICE_LOG_FILE`. */
const serviceLogFile = process.env.SERVICE_LOG_FILE === "" ? undefined : process.env.SERVICE_LOG_FILE

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export const freeLoopbackPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/**
 * Returns the URL of the embedded PostgreSQL whose data folder is
 * `dataDirectory`. Line 4 of `postmaster.pid` is the server's TCP port, and
 * `src/platform/EmbeddedPostgres.ts` creates the `postgres` user with
 * password `postgres`.
 */
const embeddedDatabaseUrl = (dataDirectory: string): string | undefined => {
  const pidFile = join(dataDirectory, "postmaster.pid")
  if (!existsSync(pidFile)) return undefined
  const port = Number(readFileSync(pidFile, "utf8").split("\n")[3])
  return Number.isInteger(port) && port > 0 ? `postgres://postgres:postgres@127.0.0.1:${port}/postgres` : undefined
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const commandFor = (runtime: Runtime): { command: string; args: Array<string> } =>
  runtime === "deno"
    ? { command: join(projectRoot, "node_modules/.bin/deno"), args: ["task", "start"] }
    // One Node process, without npm around it, so SIGTERM reaches the service itself.
    : { command: process.execPath, args: serviceNodeArguments() }

/**
 * Starts `src/main.ts` under `runtime` on a free port of 127.0.0.1, with an
 * embedded PostgreSQL in a fresh temporary folder or on `databaseUrl`, and
 * waits until `/readyz` returns 200.
 */
export const startService = async (options: ServiceOptions): Promise<RunningService> => {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort()
    try {
      return await startServiceOn(port, options)
    } catch (error) {
      // A port found free can be taken before the service listens on it, such
      // as by an outgoing connection that the system gave that local port.
      if (!(error instanceof PortTaken) || attempt === portAttempts) throw error
      console.error(`> Port ${port} was taken before the service listened on it; starting again on another`)
    }
  }
}

/** Ports that `startService` tries before it gives up. */
const portAttempts = 3

/** Error of a service that could not listen on its port, because another socket had taken it. */
class PortTaken extends Error {}

const startServiceOn = async (port: number, options: ServiceOptions): Promise<RunningService> => {
  const dataDirectory = mkdtempSync(join(tmpdir(), "saleslab-"))
  const { DATABASE_URL: _ignored, ...inherited } = process.env
  const { command, args } = commandFor(options.runtime)

  // A process group of its own lets `stop` kill the service, the `deno task`
  // wrapper and the embedded PostgreSQL together when SIGTERM is not enough.
  const child = spawn(command, args, {
    cwd: projectRoot,
    env: {
      ...inherited,
      // The receivers of the scripts and tests listen on loopback.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      ...options.env,
      ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDirectory
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  const pid = child.pid
  if (pid === undefined) {
    rmSync(dataDirectory, { recursive: true, force: true })
    throw new Error(`The service process did not start: ${command} ${args.join(" ")}`)
  }
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // The group is already gone.
    }
  }

  const output: Array<string> = []
  const keep = (chunk: Buffer) => {
    const lines = chunk.toString("utf8").split("\n").filter((line) => line !== "")
    if (options.onOutputLine !== undefined) lines.forEach(options.onOutputLine)
    if (serviceLogFile !== undefined) appendFileSync(serviceLogFile, lines.map((line) => `${line}\n`).join(""))
    output.push(...lines)
    output.splice(0, Math.max(0, output.length - 40))
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const recentOutput = () => output.join("\n")
  // "close" comes once the output pipes have ended, which can be after "exit".
  const outputEnded = new Promise<void>((resolve) => child.once("close", () => resolve()))

  const stop = async () => {
    process.off("SIGINT", onInterrupt)
    process.off("SIGTERM", onInterrupt)
    process.off("exit", onExit)
    if (!exited(child)) {
      const done = new Promise((resolve) => child.once("exit", resolve))
      // A held process acts on SIGTERM only once it runs again.
      child.kill("SIGCONT")
      child.kill("SIGTERM")
      const stopped = await Promise.race([done.then(() => true), sleep(30_000).then(() => false)])
      if (!stopped) killGroup("SIGKILL")
    }
    rmSync(dataDirectory, { recursive: true, force: true })
  }

  // The group does not get the terminal's Ctrl-C, so the caller passes it on,
  // as it does SIGTERM, and a caller that exits early takes the group down with it.
  const onInterrupt = (signal: NodeJS.Signals) => {
    void stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143))
  }
  const onExit = () => killGroup("SIGKILL")
  process.once("SIGINT", onInterrupt)
  process.once("SIGTERM", onInterrupt)
  process.once("exit", onExit)

  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000)
  while (Date.now() < deadline) {
    if (exited(child)) {
      await stop()
      await Promise.race([outputEnded, sleep(1_000)])
      const message = `The service exited before it was ready. Its last output:\n${recentOutput()}`
      throw recentOutput().includes(`EADDRINUSE: address already in use 127.0.0.1:${port}`)
        ? new PortTaken(message)
        : new Error(message)
    }
    const ready = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => {
        await response.text()
        return response.ok
      },
      () => false
    )
    if (ready) {
      return {
        baseUrl,
        pid,
        recentOutput,
        embeddedDatabaseUrl: () => embeddedDatabaseUrl(dataDirectory),
        stop,
        killNow: () => killGroup("SIGKILL"),
        hold: () => child.kill("SIGSTOP"),
        resume: () => child.kill("SIGCONT")
      }
    }
    await sleep(250)
  }
  await stop()
  throw new Error(`The service was not ready within ${options.readyTimeoutMs ?? 120_000} ms. Its last output:\n${recentOutput()}`)
}
