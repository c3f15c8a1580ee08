import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { CronJobsLive, CronRunner, ScheduledJobsLive } from "./CronJobs.ts"

/**
 * Handlers of the cron route, the job registry and the scheduled runs. Needs
 * the services that the registered jobs use and the cluster's `Sharding`.
 */
export const CronHttpLive = HttpApiBuilder.group(SalesLabApi, "cron", (handlers) =>
  Effect.gen(function*() {
    const runner = yield* CronRunner
    return handlers.handle("run", ({ path }) =>
      runner.start(path.job).pipe(Effect.as({ job: path.job, status: "started" as const })))
  })).pipe(
  Layer.provide(CronRunner.Default),
  Layer.merge(ScheduledJobsLive),
  Layer.provide(CronJobsLive)
)
