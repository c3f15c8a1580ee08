/**
 * The setup the delivery benchmarks share: the service under Node with an
 * embedded PostgreSQL, benchmark subscriptions to the timed receiver, and
 * an outbox publisher on the service's database.
 */
import { createSubscriptions, type BenchSubscription, type SetupMethod } from "./benchSubscriptions.ts"
import { connectPublisher, benchmarkEventKind, type OutboxPublisher } from "./outboxPublisher.ts"
import { formatLoad, machineLine } from "./report.ts"
import { type RunningService, startService } from "./service.ts"
import type { TimedReceiver } from "./timedReceiver.ts"

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
