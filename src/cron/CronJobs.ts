import { Context, Effect, FiberSet, Layer } from "effect"
import { NotFound } from "../ApiErrors.ts"
import { Sweeper } from "../webhooks/Sweeper.ts"

/** A job that the operator route can start by name. */
export interface CronJob {
  /** One-line summary of the job, logged when it starts. */
  readonly description: string
  readonly run: Effect.Effect<unknown>
}

/** The registry of cron jobs, by the name used in `POST /api/cron/{job}`. */
export class CronJobs extends Context.Tag("saleslab/CronJobs")<CronJobs, ReadonlyMap<string, CronJob>>() {}

/**
 * Every cron job of the service. A new job is one more entry here, with the
 * services it needs taken from the context.
 */
export const CronJobsLive = Layer.effect(
  CronJobs,
  Effect.gen(function*() {
    const sweeper = yield* Sweeper
    return new Map<string, CronJob>([
      ["sweep-deliveries", { description: "Wake every subscription with due deliveries.", run: sweeper.sweep }]
    ])
  })
)

/**
 * Starts registered jobs in the background. Jobs still running when the
 * service stops are interrupted, and a failed job is logged.
 */
export class CronRunner extends Effect.Service<CronRunner>()("saleslab/CronRunner", {
  scoped: Effect.gen(function*() {
    const jobs = yield* CronJobs
    const running = yield* FiberSet.make()

    /** Starts job `name` and returns at once. Fails with NotFound for an unknown name. */
    const start = (name: string) =>
      Effect.gen(function*() {
        const job = jobs.get(name)
        if (job === undefined) {
          const known = [...jobs.keys()].sort().join(", ")
          return yield* new NotFound({ message: `Unknown cron job '${name}'. Known jobs: ${known}.` })
        }
        const run = job.run.pipe(
          Effect.tap(() => Effect.logInfo("Cron job finished")),
          Effect.catchAllCause((cause) => Effect.logError("Cron job failed", cause)),
          Effect.annotateLogs({ job: name }),
          Effect.withSpan("CronRunner.run", { attributes: { job: name } })
        )
        yield* Effect.logInfo("Cron job started").pipe(Effect.annotateLogs({ job: name, description: job.description }))
        yield* FiberSet.run(running, run)
      })

    return { start } as const
  })
}) {}
