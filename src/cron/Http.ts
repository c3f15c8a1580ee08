import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SalesLabApi } from "../Api.ts"
import { CronJobsLive, CronRunner } from "./CronJobs.ts"

/** Handlers of the cron route with the job registry. Needs the services that the registered jobs use. */
export const CronHttpLive = HttpApiBuilder.group(SalesLabApi, "cron", (handlers) =>
  Effect.gen(function*() {
    const runner = yield* CronRunner
    return handlers.handle("run", ({ path }) =>
      runner.start(path.job).pipe(Effect.as({ job: path.job, status: "started" as const })))
  })).pipe(Layer.provide(CronRunner.Default), Layer.provide(CronJobsLive))
