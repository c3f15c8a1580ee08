import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runCrashTrial } from "../../scripts/support/crashTrial.ts"

const subscriptionConcurrency = 4

// The service runs as a child process with an embedded PostgreSQL of its own, so
// DATABASE_URL does not apply. Recovery waits for the claims of the killed
// process to expire: the 3 s delivery timeout plus the store's 10 s margin. With
// 1 s, a busy machine timed out requests the receiver had taken, and their retries
// a minute later counted as duplicates.
describe("Delivery engine crash", () => {
  it.live("SIGKILL mid-delivery loses nothing", () =>
    Effect.gen(function*() {
      const result = yield* Effect.promise(() =>
        runCrashTrial({
          events: 200,
          queueConcurrency: 8,
          subscriptionConcurrency,
          maxResponseDelayMs: 20,
          killDatabase: false,
          recoveryTimeoutMs: 120_000,
          deliveryTimeout: "3 seconds"
        })
      )

      expect(result.queued).toBe(200)
      expect(result.receivedAtKill).toBeGreaterThan(0)
      expect(result.receivedAtKill).toBeLessThan(200)
      expect(result.lost).toBe(0)
      expect(result.receivedUnique).toBe(200)
      expect(result.statuses).toEqual({ succeeded: 200 })
      expect(result.inFlightAtKill).toBeLessThanOrEqual(subscriptionConcurrency)
      expect(result.duplicates).toBeLessThanOrEqual(result.inFlightAtKill)
      expect(result.duplicatesNotInFlight).toBe(0)
    }), { timeout: 240_000 })
})
