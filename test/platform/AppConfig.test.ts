import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import { AppConfig } from "../../src/platform/AppConfig.ts"

/** Reads the settings from `variables` alone and returns the error text, or undefined when they are valid. */
const readError = (variables: Record<string, string>) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(
      Layer.build(AppConfig.layer).pipe(
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables))))
      )
    )
    return Either.isLeft(result) ? String(result.left) : undefined
  })

describe("AppConfig", () => {
  it.effect("defaults are valid", () =>
    Effect.gen(function*() {
      expect(yield* readError({})).toBeUndefined()
    }))

  it.effect("invalid values name their variable", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["WEBHOOK_MAX_IN_FLIGHT", "0"],
        ["WEBHOOK_SUBSCRIPTION_CONCURRENCY", "51"],
        ["RATE_LIMIT_PER_MINUTE", "0"],
        ["RATE_LIMIT_PER_DAY", "0"],
        ["WEBHOOK_TIMEOUT", "0 seconds"],
        ["WEBHOOK_SWEEP_INTERVAL", "0 millis"],
        ["LOG_LEVEL", "loud"],
        ["COACHING_BRIEFS_CRON", "not a cron"],
        ["DELIVERY_RETENTION", "0 seconds"],
        ["WEBHOOK_ALLOW_PRIVATE_TARGETS", "maybe"]
      ]
      for (const [name, value] of cases) {
        const error = yield* readError({ [name]: value })
        expect(error, `${name}=${value}`).toBeDefined()
        expect(error, `${name}=${value}`).toContain(name)
      }
    }))

  it.effect("private targets are off by default", () =>
    Effect.gen(function*() {
      const read = (variables: Record<string, string>) =>
        AppConfig.pipe(
          Effect.provide(AppConfig.layer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables))))
        )
      expect((yield* read({})).allowPrivateTargets).toBe(false)
      expect((yield* read({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" })).allowPrivateTargets).toBe(true)
    }))
})
