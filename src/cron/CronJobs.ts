import { ClusterCron } from "@effect/cluster"
import { Clock, type Cron, Context, DefaultServices, Effect, FiberSet, Layer } from "effect"
import { NotFound } from "../ApiErrors.ts"
import { CoachingBriefs } from "../coaching/Briefs.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { ScoreRecompute } from "../scores/ScoreRecompute.ts"
import { TournamentAdvance } from "../tournaments/TournamentAdvance.ts"
import { WageIndexSnapshots } from "../wageIndex/WageIndexSnapshots.ts"
import { DeliveryRetention } from "../webhooks/Retention.ts"
import { Sweeper } from "../webhooks/Sweeper.ts"

/** A job that the operator route can start by name, and the cluster can run on a schedule. */
export interface CronJob {
  /** One-line summary of the job, logged when it starts. */
  readonly description: string
  readonly run: Effect.Effect<unknown>
  /** When the cluster runs the job by itself, once across all runners; none for jobs only started on demand. */
  readonly schedule?: Cron.Cron
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
    const coachingBriefs = yield* CoachingBriefs
    const config = yield* AppConfig
    const tournamentAdvance = yield* TournamentAdvance
    const scoreRecompute = yield* ScoreRecompute
    const wageIndex = yield* WageIndexSnapshots
    const retention = yield* DeliveryRetention
    return new Map<string, CronJob>([
      ["sweep-deliveries", {
        description: "Wake every subscription with due deliveries, and refresh this runner's queue gauges.",
        run: Effect.zipRight(sweeper.sweep, sweeper.measureQueue)
      }],
      ["coaching-briefs", {
        description: "Mail each rep the coaching brief of the week that just ended.",
        run: Effect.orDie(coachingBriefs.run),
        schedule: coachingBriefs.schedule
      }],
      ["tournament-advance", {
        description: "Create the next round of every tournament whose current round is complete.",
        run: Effect.orDie(tournamentAdvance.run),
        schedule: config.tournamentAdvanceSchedule
      }],
      ["recompute-scores", {
        description: "Recompute every rep's Sales Lab Score, percentile and tier.",
        run: Effect.orDie(scoreRecompute.run),
        schedule: config.recomputeScoresSchedule
      }],
      ["wage-index-snapshot", {
        description: "Store a wage index snapshot of every rep's latest Sales Lab Score, unpublished.",
        run: Effect.orDie(wageIndex.generate),
        schedule: wageIndex.schedule
      }],
      ["prune-deliveries", {
        description: "Delete finished deliveries and unreferenced events past retention, and processed cluster messages.",
        run: retention.prune,
        schedule: config.retentionSchedule
      }]
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

/**
 * Registers every job that has a schedule as a cluster cron: one firing
 * across all runners at each scheduled time, logged like an on-demand run.
 * The crons' timers and runs use the real clock, like the rest of the
 * cluster, so a test that moves `TestClock` does not replay every tick.
 */
export const ScheduledJobsLive = Layer.unwrapEffect(
  Effect.map(CronJobs, (jobs) =>
    Layer.mergeAll(
      Layer.empty,
      ...[...jobs].flatMap(([name, job]) =>
        job.schedule === undefined ? [] : [
          ClusterCron.make({
            name,
            cron: job.schedule,
            execute: job.run.pipe(
              Effect.tap(() => Effect.logInfo("Scheduled job finished")),
              Effect.catchAllCause((cause) => Effect.logError("Scheduled job failed", cause)),
              Effect.asVoid,
              Effect.annotateLogs({ job: name }),
              Effect.withSpan("CronJobs.scheduled", { attributes: { job: name } })
            )
          })
        ]
      )
    ))
).pipe(Layer.locallyWith(DefaultServices.currentServices, Context.add(Clock.Clock, Clock.make())))
