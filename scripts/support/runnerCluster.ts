/**
 * Pieces shared by the takeover trial, its test and the runners benchmark.
 * They start a PostgreSQL server that several service processes share and
 * cluster runners on it, create tenants with one subscription each, and
 * queue events through the project's `Events` service from this process, as
 * an emit point queues them. Everything listens on 127.0.0.1.
 */
import { ShardingConfig } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import type { FieldsOf } from "../../src/events/Events.ts"
import { Events } from "../../src/events/Events.ts"
import { startEmbeddedPostgres } from "../../src/platform/EmbeddedPostgres.ts"
import { ApiClient, createCompany } from "./api.ts"
import { mapConcurrently } from "./concurrency.ts"
import { type ServiceProcess, startServiceProcess } from "./crashableService.ts"
import { freeLoopbackPort } from "./service.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A PostgreSQL server started by this process. */
export interface DatabaseServer {
  /** Connection URL of the server's `postgres` database. */
  readonly url: string
  /** Stops the server and removes its data folder. */
  readonly stop: () => Promise<void>
}

/**
 * Starts an embedded PostgreSQL in a fresh temporary folder on a free
 * loopback port. The caller must call `stop`, also on failure, because the
 * server is a separate process that outlives this one.
 */
export const startDatabaseServer = async (): Promise<DatabaseServer> => {
  const directory = mkdtempSync(join(tmpdir(), "saleslab-runners-"))
  const scope = Effect.runSync(Scope.make())
  const url = await Effect.runPromise(startEmbeddedPostgres(directory).pipe(Scope.extend(scope))).catch(
    async (error: unknown) => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(directory, { recursive: true, force: true })
      throw error
    }
  )
  return {
    url: Redacted.value(url),
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** Returns the URL of database `name` on the server of `serverUrl`. */
export const databaseUrlOf = (serverUrl: string, name: string) => {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const withClient = async <A>(url: string, run: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url })
  // A server that stops under the client must not end the process without a report.
  client.on("error", () => {})
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Creates an empty database with a unique name on the server and returns its URL. */
export const createDatabase = async (serverUrl: string, prefix: string): Promise<string> => {
  const name = `${prefix}_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  return databaseUrlOf(serverUrl, name)
}

/** Drops the database of `databaseUrl`, closing the connections still open to it. */
export const dropDatabase = async (serverUrl: string, databaseUrl: string): Promise<void> => {
  const name = new URL(databaseUrl).pathname.slice(1)
  await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

/** A service process that runs as a cluster runner. */
export interface Runner extends ServiceProcess {
  /** `host:port` of its runner socket, as the `runner` label of its queue gauges shows it. */
  readonly runnerAddress: string
  /** Stops the process if it still runs and removes its unused data folder. */
  readonly stopAndClean: () => Promise<void>
}

/** Options of `startRunner`. */
export interface RunnerOptions {
  /** Database that all runners share. */
  readonly databaseUrl: string
  /** `CLUSTER_MODE` of the process; `socket` unless set. A `single` runner must be alone on its database. */
  readonly mode?: "single" | "socket"
  /** Further settings, such as `OPERATOR_TOKEN` or `LOG_LEVEL`. */
  readonly env: Readonly<Record<string, string>>
  readonly onOutputLine?: (line: string) => void
}

/**
 * Starts the service as a cluster runner on `databaseUrl`, with its HTTP
 * server and its runner socket on free ports of 127.0.0.1, and waits until
 * it is ready.
 */
export const startRunner = async (options: RunnerOptions): Promise<Runner> => {
  const runnerPort = await freeLoopbackPort()
  // The service runs on DATABASE_URL, so this folder stays empty.
  const dataDirectory = mkdtempSync(join(tmpdir(), "saleslab-runner-"))
  try {
    const service = await startServiceProcess({
      dataDirectory,
      env: {
        ...options.env,
        DATABASE_URL: options.databaseUrl,
        CLUSTER_MODE: options.mode ?? "socket",
        RUNNER_HOST: "127.0.0.1",
        RUNNER_PORT: String(runnerPort)
      },
      ...(options.onOutputLine === undefined ? {} : { onOutputLine: options.onOutputLine })
    })
    return {
      ...service,
      runnerAddress: `127.0.0.1:${runnerPort}`,
      stopAndClean: async () => {
        await service.stop()
        rmSync(dataDirectory, { recursive: true, force: true })
      }
    }
  } catch (error) {
    rmSync(dataDirectory, { recursive: true, force: true })
    throw error
  }
}

/**
 * Waits until every shard lock is held and `runners` database sessions hold
 * them, which is when a cluster of that many runners has settled its shard
 * assignments. On PostgreSQL the library takes each shard lock as a session
 * advisory lock on the database it shares.
 */
export const awaitShardsSpread = async (databaseUrl: string, runners: number, timeoutMs: number) => {
  const shards = ShardingConfig.defaults.shardsPerGroup
  await withClient(databaseUrl, async (client) => {
    const deadline = Date.now() + timeoutMs
    let last = { locks: 0, holders: 0 }
    while (Date.now() < deadline) {
      const result = await client.query<{ locks: number; holders: number }>(
        `SELECT count(*)::int AS locks, count(DISTINCT pid)::int AS holders FROM pg_locks
         WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
      )
      last = result.rows[0] ?? last
      if (last.locks === shards && last.holders === runners) return
      await sleep(100)
    }
    throw new Error(
      `The shard locks did not settle within ${timeoutMs} ms: ${last.locks} of ${shards} held by ${last.holders} ` +
        `sessions, expected ${runners}.`
    )
  })
}

/** A tenant with one subscription. */
export interface Subscriber {
  readonly companyId: string
  readonly subscriptionId: string
}

/**
 * Creates `count` companies through the operator route, each with one
 * subscription to every event kind at `receiverUrl`, through the API.
 */
export const createSubscribers = (options: {
  readonly baseUrl: string
  readonly operatorToken: string
  readonly receiverUrl: string
  readonly count: number
  readonly concurrency: number
}): Promise<Array<Subscriber>> => {
  const suffix = crypto.randomUUID().slice(0, 8)
  return mapConcurrently(Array.from({ length: options.count }, (_, index) => index), options.concurrency, async (index) => {
    const company = await createCompany(options.baseUrl, options.operatorToken, `Runner Trial ${index} ${suffix}`)
    const subscription = await new ApiClient(options.baseUrl, company.adminToken).request<{ id: string }>(
      "POST",
      "/v1/webhooks",
      201,
      { url: options.receiverUrl, event_kinds: [], description: "Runner trial receiver" }
    )
    return { companyId: company.companyId, subscriptionId: subscription.id }
  })
}

/** Fields of a synthetic `session.scorecard_finalized`; its text states that it comes from a trial. */
const trialScorecard = (sequence: number): FieldsOf<"session.scorecard_finalized"> => ({
  session_id: crypto.randomUUID(),
  user_id: crypto.randomUUID(),
  scorecard: {
    id: crypto.randomUUID(),
    overall_score: 70 + (sequence % 30),
    verdict: "pass",
    headline: `Trial event ${sequence}`,
    category_scores: { discovery: 8, objection_handling: 7, control: 7 },
    best_line: "Trial event: no practice session took place.",
    worst_line: "Trial event: no practice session took place.",
    next_drill: "Trial event: no practice session took place."
  }
})

/** Options of `queueScorecardEvents`. */
export interface QueueOptions {
  readonly databaseUrl: string
  readonly subscribers: ReadonlyArray<Subscriber>
  /** Events in all, spread as evenly as possible over the subscribers. */
  readonly events: number
  /** Events published in one transaction, at most. */
  readonly transactionSize: number
  /** Transactions in flight at once, each from its own stream of subscribers. */
  readonly concurrency: number
}

/**
 * Publishes `session.scorecard_finalized` events through `Events.publish`,
 * inside SQL transactions, as the post-call webhook does, each to one
 * subscriber's tenant. The subscribers are dealt to `concurrency` streams.
 * Each stream publishes its subscribers' events round-robin, one
 * transaction after the other, so each subscription's deliveries are queued
 * in publishing order. Each commit notifies the runners. Returns the number
 * of deliveries queued.
 */
export const queueScorecardEvents = (options: QueueOptions): Promise<number> => {
  const streams: Array<Array<Subscriber>> = Array.from({ length: options.concurrency }, () => [])
  for (let event = 0; event < options.events; event++) {
    const subscriber = event % options.subscribers.length
    streams[subscriber % options.concurrency]!.push(options.subscribers[subscriber]!)
  }

  const program = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events
    let sequence = 0
    const publishOne = (subscriber: Subscriber) =>
      Effect.suspend(() =>
        events.publish("session.scorecard_finalized", subscriber.companyId, new Date(), trialScorecard(sequence++))
      )
    const publishStream = (stream: ReadonlyArray<Subscriber>) =>
      Effect.gen(function*() {
        let queued = 0
        for (let start = 0; start < stream.length; start += options.transactionSize) {
          const counts = yield* Effect.forEach(stream.slice(start, start + options.transactionSize), publishOne).pipe(
            sql.withTransaction
          )
          queued += counts.reduce((sum, count) => sum + count, 0)
        }
        return queued
      })
    const perStream = yield* Effect.forEach(streams, publishStream, { concurrency: "unbounded" })
    return perStream.reduce((sum, count) => sum + count, 0)
  })

  const DatabaseLive = PgClient.layer({
    url: Redacted.make(options.databaseUrl),
    applicationName: "saleslab-runner-trial",
    maxConnections: options.concurrency + 1
  })
  return Effect.runPromise(program.pipe(Effect.provide(Events.Default.pipe(Layer.provideMerge(DatabaseLive)))))
}

/** Returns the number of `webhook_deliveries` rows in each status. */
export const countStatuses = async (client: pg.Client): Promise<Record<string, number>> => {
  const result = await client.query<{ status: string; count: number }>(
    "SELECT status, count(*)::int AS count FROM webhook_deliveries GROUP BY status"
  )
  return Object.fromEntries(result.rows.map((row) => [row.status, row.count]))
}

/**
 * Polls the delivery rows every 200 ms until `expected` of them are
 * `succeeded` or `deadline` (a `Date.now()` value) passes. Returns the time
 * it happened, or NaN, and the counts by status last read.
 */
export const awaitAllSucceeded = async (
  client: pg.Client,
  expected: number,
  deadline: number,
  onProgress?: (statuses: Record<string, number>) => void
): Promise<{ readonly at: number; readonly statuses: Record<string, number> }> => {
  let nextReport = Date.now() + 5_000
  let statuses = await countStatuses(client)
  while ((statuses.succeeded ?? 0) < expected) {
    if (Date.now() >= deadline) return { at: Number.NaN, statuses }
    if (Date.now() >= nextReport) {
      nextReport += 5_000
      onProgress?.(statuses)
    }
    await sleep(200)
    statuses = await countStatuses(client)
  }
  return { at: Date.now(), statuses }
}

/** Connects a client to `url` that ignores errors of a server going away, so the caller can still report. */
export const connect = async (url: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => {})
  await client.connect()
  return client
}
