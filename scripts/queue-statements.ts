/**
 * Measures what the delivery queue costs PostgreSQL, with no HTTP in
 * between: CPU time per delivery to publish the events through the outbox,
 * and to drain them with the delivery store's own claims and records, each
 * attempt recorded as a success at once.
 *
 *   npm run bench:queue -- --subscriptions 100 --deliveries 40000 --rounds 2
 *
 * Starts an embedded PostgreSQL in a temporary folder. Each round creates
 * two databases with every migration applied: one as the migrations leave
 * `webhook_deliveries`, and the baseline, the same table set back to
 * PostgreSQL's default fillfactor of 100. The rounds take the two in turn,
 * so that a slow spell of the machine falls on both. The CPU time is that of
 * every PostgreSQL process, background workers included, read from `/proc`
 * (Linux only).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { AppConfig } from "../src/platform/AppConfig.ts"
import { startEmbeddedPostgres } from "../src/platform/EmbeddedPostgres.ts"
import { findSqlFolder, migrate, readMigrations } from "../src/platform/Migrations.ts"
import { DeliveryClock } from "../src/webhooks/DeliveryClock.ts"
import { type ClaimedDelivery, DeliveryStore } from "../src/webhooks/DeliveryStore.ts"
import { createSubscriptions } from "./support/benchSubscriptions.ts"
import { mapConcurrently } from "./support/concurrency.ts"
import { cpuSince, readTreeCpu } from "./support/cpu.ts"
import { printMachine, progress } from "./support/deliveryBench.ts"
import { readFlags } from "./support/options.ts"
import { benchmarkEventKind, connectPublisher, type Target } from "./support/outboxPublisher.ts"
import { formatCount, formatRatio, markdownTable, median, printSettings } from "./support/report.ts"

const flags = readFlags("bench:queue", {
  subscriptions: { kind: "integer", default: 100, min: 1, max: 20_000, description: "subscriptions the deliveries are spread over" },
  deliveries: { kind: "integer", default: 40_000, min: 1, max: 200_000, description: "events to publish in each database, one delivery each" },
  rounds: { kind: "integer", default: 2, min: 1, max: 10, description: "rounds, each measuring both tables" },
  "publisher-connections": { kind: "integer", default: 16, min: 1, max: 100, description: "database connections that publish events" },
  "events-per-transaction": { kind: "integer", default: 50, min: 1, max: 10_000, description: "events each publishing transaction writes" }
})

/** The two forms of the table that each round measures. */
type Variant = "migrations" | "baseline"

const variantLabel: Record<Variant, string> = {
  migrations: "as migrated (fillfactor 50)",
  baseline: "baseline: fillfactor 100"
}

/** Figures of one database: CPU times in milliseconds of all PostgreSQL processes. */
interface Measurement {
  readonly variant: Variant
  readonly round: number
  readonly publishCpuMs: number
  readonly drainCpuMs: number
  readonly drainSeconds: number
  readonly delivered: number
  readonly hotUpdates: number
  readonly updates: number
  readonly tableBytes: number
}

/** Returns `databaseUrl` with its database name replaced. */
const withDatabase = (databaseUrl: string, database: string): string => {
  const url = new URL(databaseUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** Runs `statements` on one connection to `databaseUrl`. */
const runStatements = async (databaseUrl: string, statements: ReadonlyArray<string>) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const results = []
    for (const statement of statements) results.push(await client.query(statement))
    return results
  } finally {
    await client.end()
  }
}

/** Creates a database with every migration applied, and the baseline's fillfactor when asked. */
const prepareDatabase = async (serverUrl: string, database: string, variant: Variant): Promise<string> => {
  await runStatements(serverUrl, [`CREATE DATABASE ${database}`])
  const databaseUrl = withDatabase(serverUrl, database)
  const migrations = readMigrations(findSqlFolder(import.meta.dirname))
  // Only warnings, because the migrations' summary line would repeat in every round.
  await Effect.runPromise(
    migrate(migrations).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })),
      Effect.scoped,
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )
  if (variant === "baseline") await runStatements(databaseUrl, ["ALTER TABLE webhook_deliveries SET (fillfactor = 100)"])
  return databaseUrl
}

/** Publishes `flags.deliveries` events round-robin over `targets`, as the throughput benchmark does. */
const publishEvents = async (databaseUrl: string, targets: ReadonlyArray<Target>) => {
  const publisher = await connectPublisher(databaseUrl, flags["publisher-connections"])
  try {
    const perTransaction = flags["events-per-transaction"]
    const transactions = Array.from({ length: Math.ceil(flags.deliveries / perTransaction) }, (_, index) => index)
    await mapConcurrently(transactions, flags["publisher-connections"], async (transaction) => {
      const first = transaction * perTransaction
      const count = Math.min(perTransaction, flags.deliveries - first)
      await publisher.publishMany(Array.from({ length: count }, (_, offset) => ({
        sequence: first + offset,
        target: targets[(first + offset) % targets.length]!
      })))
    })
  } finally {
    await publisher.close()
  }
}

/** A finished attempt that succeeded at once, as a fast receiver's 200 would be recorded. */
const succeeded = (delivery: ClaimedDelivery) => ({
  delivery,
  startedAt: new Date(),
  durationMs: 1,
  statusCode: Option.some(200),
  responseBody: Option.some(""),
  error: Option.none(),
  outcome: "succeeded" as const,
  nextAttemptAt: Option.none()
})

/**
 * Drains every subscription as the engine's partitions do, one fiber per
 * subscription: claim a batch, record each of its rows, claim again until
 * nothing is due. Returns the number of deliveries recorded.
 */
const drainAll = (databaseUrl: string, targets: ReadonlyArray<Target>) => {
  const runtime = ManagedRuntime.make(
    DeliveryStore.Default.pipe(
      Layer.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 10 })),
      Layer.provide(AppConfig.layerTest()),
      Layer.provide(DeliveryClock.layer)
    )
  )
  const drainOne = (store: DeliveryStore, subscriptionId: string) =>
    Effect.gen(function*() {
      let recorded = 0
      while (true) {
        const batch = yield* store.claimDue(subscriptionId)
        if (batch.length === 0) return recorded
        yield* Effect.forEach(batch, (delivery) => store.recordAttempt(succeeded(delivery)), { concurrency: "unbounded" })
        recorded += batch.length
      }
    })
  return runtime.runPromise(
    Effect.flatMap(DeliveryStore, (store) =>
      Effect.forEach(targets, (target) => drainOne(store, target.subscriptionId), { concurrency: "unbounded" })).pipe(
        Effect.map((counts) => counts.reduce((sum, count) => sum + count, 0))
      )
  ).finally(() => runtime.dispose())
}

/** Reads the update counts and the size of `webhook_deliveries` once the statistics have been flushed. */
const tableFigures = async (databaseUrl: string) => {
  // The drain's connections are closed by now, and a backend flushes its statistics as it exits.
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const [stats] = await runStatements(databaseUrl, [
    `SELECT n_tup_upd::int AS updates, n_tup_hot_upd::int AS hot_updates, pg_total_relation_size('webhook_deliveries')::float8 AS bytes
     FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'`
  ])
  const row = stats!.rows[0] as { updates: number; hot_updates: number; bytes: number }
  return { updates: row.updates, hotUpdates: row.hot_updates, tableBytes: row.bytes }
}

const measure = async (serverUrl: string, postmasterPid: number, variant: Variant, round: number): Promise<Measurement> => {
  const database = `queue_${variant}_${round}`
  progress(`Round ${round}, ${variantLabel[variant]}: creating ${database} with ${formatCount(flags.subscriptions)} subscriptions`)
  const databaseUrl = await prepareDatabase(serverUrl, database, variant)
  const targets = await createSubscriptions({
    method: "sql",
    count: flags.subscriptions,
    url: "http://127.0.0.1:9/queue-benchmark",
    eventKinds: [benchmarkEventKind],
    baseUrl: "",
    operatorToken: "",
    databaseUrl,
    concurrency: 1
  })

  progress(`Round ${round}, ${variantLabel[variant]}: publishing ${formatCount(flags.deliveries)} events`)
  const beforePublish = readTreeCpu(postmasterPid)
  await publishEvents(databaseUrl, targets)
  const afterPublish = readTreeCpu(postmasterPid)
  // Checkpoints now, so that the checkpoint which the inserts' WAL would start does not fall in the drain.
  await runStatements(databaseUrl, ["CHECKPOINT"])

  progress(`Round ${round}, ${variantLabel[variant]}: draining`)
  const beforeDrain = readTreeCpu(postmasterPid)
  const started = performance.now()
  const delivered = await drainAll(databaseUrl, targets)
  const drainSeconds = (performance.now() - started) / 1000
  const drain = cpuSince(beforeDrain, readTreeCpu(postmasterPid))
  const publish = cpuSince(beforePublish, afterPublish)
  if (delivered !== flags.deliveries) throw new Error(`Expected ${flags.deliveries} deliveries to be recorded in ${database}, recorded ${delivered}.`)
  const figures = await tableFigures(databaseUrl)
  progress(`Round ${round}, ${variantLabel[variant]}: ${formatCount(delivered)} recorded in ${drainSeconds.toFixed(1)} s`)
  await runStatements(serverUrl, [`DROP DATABASE ${database}`])
  return {
    variant,
    round,
    publishCpuMs: publish.root + publish.descendants,
    drainCpuMs: drain.root + drain.descendants,
    drainSeconds,
    delivered,
    ...figures
  }
}

const perDelivery = (ms: number, deliveries: number) => `${((ms / deliveries) * 1000).toFixed(1)}`

const main = Effect.gen(function*() {
  printMachine("before")
  const directory = mkdtempSync(join(tmpdir(), "saleslab-queue-bench-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
  progress("Starting an embedded PostgreSQL")
  const serverUrl = Redacted.value(yield* startEmbeddedPostgres(directory))
  const postmasterPid = Number(readFileSync(join(directory, "postmaster.pid"), "utf8").split("\n")[0])

  const measurements: Array<Measurement> = []
  for (let round = 1; round <= flags.rounds; round++) {
    // Odd rounds start with the baseline, even rounds with the migrated table.
    const order: Array<Variant> = round % 2 === 1 ? ["baseline", "migrations"] : ["migrations", "baseline"]
    for (const variant of order) measurements.push(yield* Effect.promise(() => measure(serverUrl, postmasterPid, variant, round)))
  }

  console.log("")
  console.log("## PostgreSQL's share of a delivery: outbox inserts, claims and records")
  console.log("")
  printSettings({
    subscriptions: formatCount(flags.subscriptions),
    "deliveries per database": formatCount(flags.deliveries),
    rounds: flags.rounds,
    "events per publishing transaction": flags["events-per-transaction"],
    "publisher connections": flags["publisher-connections"]
  })
  console.log("")
  console.log(markdownTable(
    ["round", "webhook_deliveries", "publish: PostgreSQL CPU µs per delivery", "drain: PostgreSQL CPU µs per delivery", "drain seconds", "heap-only updates", "table and indexes, MB"],
    measurements.map((m) => [
      String(m.round),
      variantLabel[m.variant],
      perDelivery(m.publishCpuMs, m.delivered),
      perDelivery(m.drainCpuMs, m.delivered),
      m.drainSeconds.toFixed(1),
      `${formatCount(m.hotUpdates)} of ${formatCount(m.updates)}`,
      (m.tableBytes / 1e6).toFixed(0)
    ])
  ))
  console.log("")
  const medianOf = (variant: Variant, pick: (m: Measurement) => number) =>
    median(measurements.filter((m) => m.variant === variant).map(pick))
  const drainPerDelivery = (m: Measurement) => m.drainCpuMs / m.delivered
  const publishPerDelivery = (m: Measurement) => m.publishCpuMs / m.delivered
  console.log(
    `Median over the rounds, migrated table / baseline: drain CPU ${formatRatio(medianOf("migrations", drainPerDelivery) / medianOf("baseline", drainPerDelivery))}, ` +
      `publish CPU ${formatRatio(medianOf("migrations", publishPerDelivery) / medianOf("baseline", publishPerDelivery))}`
  )
  console.log("")
  printMachine("after")
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`Benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
    process.exit(1)
  }
)
