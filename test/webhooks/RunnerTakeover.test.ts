import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import { createDatabase, dropDatabase } from "../../scripts/support/runnerCluster.ts"
import { runTakeoverTrial } from "../../scripts/support/takeoverTrial.ts"

// One delivery in flight per subscription, so each subscription's deliveries must arrive
// exactly in queue order. The killed runner's claims last the 3 s timeout plus 10 s.
// With 1 s, a busy machine timed out first requests, and their retries came a minute later.
const subscriptionConcurrency = 1

// Two runner processes on a fresh database of the test server, which DATABASE_URL sets.
describe("Socket runners", () => {
  it.live("SIGKILL of one runner loses nothing", () =>
    Effect.gen(function*() {
      const serverUrl = inject("databaseUrl")
      const result = yield* Effect.acquireUseRelease(
        Effect.promise(() => createDatabase(serverUrl, "takeover")),
        (databaseUrl) =>
          Effect.promise(() =>
            runTakeoverTrial({
              databaseUrl,
              subscriptions: 16,
              events: 320,
              subscriptionConcurrency,
              maxResponseDelayMs: 40,
              deliveryTimeout: "3 seconds",
              killAtShare: 0.4,
              recoveryTimeoutMs: 60_000
            })
          ),
        (databaseUrl) => Effect.promise(() => dropDatabase(serverUrl, databaseUrl).catch(() => {}))
      )

      expect(result.queued).toBe(320)
      expect(result.receivedAtKill).toBeGreaterThan(0)
      expect(result.receivedAtKill).toBeLessThan(320)
      expect(result.lost).toBe(0)
      expect(result.receivedUnique).toBe(320)
      expect(result.statuses).toEqual({ succeeded: 320 })
      expect(result.duplicatesNotInFlight).toBe(0)
      expect(result.duplicates).toBeLessThanOrEqual(result.inFlightAtKill)
      expect(result.inFlightAtKill).toBeLessThanOrEqual(result.victimSubscriptions * subscriptionConcurrency)

      expect(result.victimSubscriptions).toBeGreaterThan(0)
      expect(result.victimSubscriptionsWithBacklog).toBeGreaterThan(0)
      expect(result.takenOver).toBeGreaterThanOrEqual(result.victimSubscriptionsWithBacklog)
      expect(result.deliveredBySurvivor).toBe(result.victimSubscriptionsWithBacklog)
      expect(result.shardTakeoverMs).toBeGreaterThan(0)
      expect(result.takeoverMs).toBeGreaterThanOrEqual(result.shardTakeoverMs)

      expect(result.maxInFlightPerSubscription).toBeLessThanOrEqual(subscriptionConcurrency)
      expect(result.outOfOrder).toBe(0)
      for (const { runner, labels } of result.gaugeLabels) expect(labels).toEqual([runner])
    }), { timeout: 120_000 })
})
