import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { join } from "node:path"
import { freeLoopbackPort, serviceNodeArguments } from "./service.ts"

const projectRoot = fileURLToPath(new URL("../..", import.meta.url))

/** The service as one Node child process on a data folder that the caller owns and may reuse after a crash. */
export interface ServiceProcess {
  readonly baseUrl: string
  /** Process id of the Node process that runs the service. */
  readonly pid: number
  /** The last lines the service wrote to stdout and stderr, for error reports. */
  readonly recentOutput: () => string
  /**
   * Sends SIGKILL to the Node process only, so its embedded PostgreSQL keeps
   * running, or with `withDatabase` to its whole process group, PostgreSQL
   * included. Resolves once the Node process has exited.
   */
  readonly kill: (withDatabase: boolean) => Promise<void>
  /** Stops the service with SIGTERM, and its process group with SIGKILL after 30 s. The data folder stays. */
  readonly stop: () => Promise<void>
}

/**
 * Returns the URL of the embedded PostgreSQL serving `dataDirectory`, read
 * from line 4 of its `postmaster.pid` (the TCP port), or undefined when that
 * file is missing. `src/platform/EmbeddedPostgres.ts` creates the user
 * `postgres` with password `postgres`.
 */
export const embeddedDatabaseUrl = (dataDirectory: string): string | undefined => {
  const pidFile = join(dataDirectory, "postmaster.pid")
  if (!existsSync(pidFile)) return undefined
  const port = Number(readFileSync(pidFile, "utf8").split("\n")[3])
  return Number.isInteger(port) && port > 0 ? `postgres://postgres:postgres@127.0.0.1:${port}/postgres` : undefined
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const waitForExit = (child: ChildProcess, timeoutMs: number) =>
  exited(child)
    ? Promise.resolve(true)
    : Promise.race([new Promise<boolean>((resolve) => child.once("exit", () => resolve(true))), sleep(timeoutMs).then(() => false)])

/**
 * Starts the service as `npm start` runs it on a free port of 127.0.0.1 with
 * an embedded PostgreSQL in `dataDirectory`, in a process group of its own,
 * and waits until `/readyz` returns 200. Starting again on the folder of a
 * killed process reuses its database: the service stops a PostgreSQL server
 * left running there before it starts its own. With `DATABASE_URL` in `env`
 * the service uses that server instead and leaves `dataDirectory` unused.
 */
export const startServiceProcess = async (options: {
  readonly dataDirectory: string
  /** Settings passed as environment variables, on top of the caller's environment less `DATABASE_URL`. */
  readonly env: Readonly<Record<string, string>>
  readonly readyTimeoutMs?: number
  /** Called with every line the service writes to stdout or stderr, such as its JSON log lines. */
  readonly onOutputLine?: (line: string) => void
}): Promise<ServiceProcess> => {
  const port = await freeLoopbackPort()
  const { DATABASE_URL: _ignored, ...inherited } = process.env
  const child = spawn(process.execPath, serviceNodeArguments(), {
    cwd: projectRoot,
    // The receivers of the scripts and tests listen on loopback, so private targets are allowed.
    env: {
      ...inherited,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      ...options.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: options.dataDirectory
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  const pid = child.pid
  if (pid === undefined) throw new Error("The service process did not start.")
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // The group is already gone.
    }
  }

  const output: Array<string> = []
  const keepFrom = () => {
    // A chunk may end in the middle of a line, which the next chunk completes.
    let partial = ""
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString("utf8")).split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) {
        if (line === "") continue
        output.push(line)
        options.onOutputLine?.(line)
      }
      output.splice(0, Math.max(0, output.length - 40))
    }
  }
  child.stdout?.on("data", keepFrom())
  child.stderr?.on("data", keepFrom())
  const recentOutput = () => output.join("\n")

  // A caller that exits early takes the whole group down with it.
  const onExit = () => signalGroup("SIGKILL")
  process.once("exit", onExit)

  const kill = async (withDatabase: boolean) => {
    if (withDatabase) signalGroup("SIGKILL")
    else child.kill("SIGKILL")
    await waitForExit(child, 10_000)
  }
  const stop = async () => {
    process.off("exit", onExit)
    if (!exited(child)) {
      child.kill("SIGTERM")
      if (!(await waitForExit(child, 30_000))) signalGroup("SIGKILL")
    }
  }

  const baseUrl = `http://127.0.0.1:${port}`
  const timeoutMs = options.readyTimeoutMs ?? 120_000
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited(child)) {
      process.off("exit", onExit)
      throw new Error(`The service exited before it was ready. Its last output:\n${recentOutput()}`)
    }
    const ready = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => {
        await response.text()
        return response.ok
      },
      () => false
    )
    if (ready) return { baseUrl, pid, recentOutput, kill, stop }
    await sleep(250)
  }
  await stop()
  throw new Error(`The service was not ready within ${timeoutMs} ms. Its last output:\n${recentOutput()}`)
}
