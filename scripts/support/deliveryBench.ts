/**
 * The setup the delivery benchmarks share: the service under Node with an
 * embedded PostgreSQL, benchmark subscriptions to the timed receiver, and
 * an outbox publisher on the service's database.
 */
import { createSubscriptions, type BenchSubscription, type SetupMethod } from "./benchSubscriptions.ts"
import type { FlagValues, IntegerFlag } from "./options.ts"
import { connectPublisher, benchmarkEventKind, type OutboxPublisher } from "./outboxPublisher.ts"
import { formatLoad, machineLine } from "./report.ts"
import { type RunningService, startService } from "./service.ts"
import type { TimedReceiver } from "./timedReceiver.ts"

/** Flags of the service and the setup that every delivery benchmark takes. */
export const environmentFlags = {
  "setup-concurrency": { kind: "integer", default: 16, min: 1, max: 64, description: "API requests in flight while creating subscriptions" },
  "publisher-connections": { kind: "integer", default: 16, min: 1, max: 100, description: "database connections that publish events" },
  "subscription-concurrency": { kind: "integer", default: 4, min: 1, max: 50, description: "WEBHOOK_SUBSCRIPTION_CONCURRENCY of the service" },
  "max-in-flight": {
    kind: "integer",
    default: 0,
    min: 0,
    max: 10_000,
    description: "WEBHOOK_MAX_IN_FLIGHT of the service; 0 leaves the service's default"
  }
} satisfies Record<string, IntegerFlag>

type EnvironmentFlagValues = FlagValues<typeof environmentFlags>

/** The options of `startBenchEnvironment` that come from `environmentFlags`. */
export const environmentOptions = (flags: EnvironmentFlagValues) => ({
  setupConcurrency: flags["setup-concurrency"],
  publisherConnections: flags["publisher-connections"],
  subscriptionConcurrency: flags["subscription-concurrency"],
  maxInFlight: flags["max-in-flight"]
})

/** The settings rows of `environmentFlags`, for `printSettings`. */
export const environmentSettings = (flags: EnvironmentFlagValues): Record<string, string | number> => ({
  "publisher connections": flags["publisher-connections"],
  WEBHOOK_SUBSCRIPTION_CONCURRENCY: flags["subscription-concurrency"],
  WEBHOOK_MAX_IN_FLIGHT: flags["max-in-flight"] === 0 ? "not set: the service's default" : flags["max-in-flight"]
})

/** Prints one progress line of a benchmark. */
export const progress = (line: string): void => console.log(`> ${line}`)

/** A running service with its benchmark subscriptions and a publisher on its database. */
export interface BenchEnvironment {
  readonly service: RunningService
  readonly publisher: OutboxPublisher
  readonly subscriptions: ReadonlyArray<BenchSubscription>
  /** Seconds the subscriptions took to create. */
  readonly setupSeconds: number
  /** Closes the publisher and stops the service, which removes its data folder. */
  stop(): Promise<void>
}

/** Options of `startBenchEnvironment`. */
export interface BenchEnvironmentOptions {
  readonly receiver: TimedReceiver
  readonly subscriptions: number
  readonly setup: SetupMethod
  /** Requests in flight while creating subscriptions through the API. */
  readonly setupConcurrency: number
  /** Connections of the publisher's pool. */
  readonly publisherConnections: number
  /** `WEBHOOK_SUBSCRIPTION_CONCURRENCY` of the service. */
  readonly subscriptionConcurrency: number
  /** `WEBHOOK_MAX_IN_FLIGHT` of the service, or 0 to leave it unset. */
  readonly maxInFlight: number
  /** Called once the service is ready, before the subscriptions are created. */
  readonly onServiceReady?: (service: RunningService) => void
}

/**
 * Starts the service, creates the subscriptions, all pointing at the
 * receiver's healthy endpoint, gives their secrets to the receiver and
 * connects the publisher. Stops what it started when a step fails.
 */
export const startBenchEnvironment = async (options: BenchEnvironmentOptions): Promise<BenchEnvironment> => {
  const operatorToken = `operator-${crypto.randomUUID()}`
  progress("Starting the service under Node with an embedded PostgreSQL")
  const service = await startService({
    runtime: "node",
    env: {
      OPERATOR_TOKEN: operatorToken,
      LOG_LEVEL: "warning",
      WEBHOOK_SUBSCRIPTION_CONCURRENCY: String(options.subscriptionConcurrency),
      ...(options.maxInFlight > 0 ? { WEBHOOK_MAX_IN_FLIGHT: String(options.maxInFlight) } : {}),
      // The operator token creates every tenant, past the default limit of 600 requests per minute.
      RATE_LIMIT_PER_MINUTE: "1000000",
      RATE_LIMIT_PER_DAY: "1000000"
    }
  })

  let publisher: OutboxPublisher | undefined
  try {
    options.onServiceReady?.(service)
    const databaseUrl = service.embeddedDatabaseUrl()
    if (databaseUrl === undefined) throw new Error("The service's embedded PostgreSQL has no postmaster.pid, so its port is unknown.")

    progress(`Creating ${options.subscriptions} subscriptions (${options.setup === "api" ? "through the REST API" : "with SQL inserts"})`)
    const setupStarted = performance.now()
    const subscriptions = await createSubscriptions({
      method: options.setup,
      count: options.subscriptions,
      url: options.receiver.url,
      eventKinds: [benchmarkEventKind],
      baseUrl: service.baseUrl,
      operatorToken,
      databaseUrl,
      concurrency: options.setupConcurrency,
      onProgress: (line) => console.log(`  ${line}`)
    })
    const setupSeconds = (performance.now() - setupStarted) / 1000
    await options.receiver.addSecrets(subscriptions.map((subscription) => [subscription.subscriptionId, subscription.secret] as const))

    publisher = await connectPublisher(databaseUrl, options.publisherConnections)
    const connected = publisher
    return {
      service,
      publisher: connected,
      subscriptions,
      setupSeconds,
      stop: async () => {
        await connected.close().catch(() => {})
        await service.stop()
      }
    }
  } catch (error) {
    await publisher?.close().catch(() => {})
    await service.stop()
    throw error
  }
}

/** Prints the machine and the load average, under a heading, before or after a run. */
export const printMachine = (moment: "before" | "after"): void => {
  if (moment === "before") console.log(`Machine: ${machineLine()}`)
  console.log(`Load average (1 / 5 / 15 min) ${moment} the run: ${formatLoad()}`)
}

/**
 * Runs a benchmark's `main` and exits: with 0 when it returns, whether or
 * not its goal lines were met, and with 1 when it throws, after `cleanup`.
 */
export const runBenchmark = async (main: () => Promise<void>, cleanup: () => Promise<void>): Promise<never> => {
  let exitCode = 0
  try {
    await main()
  } catch (error) {
    console.error(`Benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
    exitCode = 1
  } finally {
    await cleanup().catch((error: unknown) => console.error(`Cleaning up failed: ${String(error)}`))
  }
  return process.exit(exitCode)
}
