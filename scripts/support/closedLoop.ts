import { summarize, type Summary } from "./report.ts"

/** Result of `runClosedLoop`. */
export interface ClosedLoopResult {
  /** Calls that succeeded. */
  readonly calls: number
  /** Calls that threw. */
  readonly failures: number
  /** Message of the first call that threw. */
  readonly firstError: string | undefined
  /**
   * Time from the start until the last call ended, in milliseconds. Calls
   * started before the deadline run to their end, so it can exceed the duration.
   */
  readonly elapsedMs: number
  /** Successful calls per second over `elapsedMs`. */
  readonly callsPerSecond: number
  /** Duration of each successful call, in milliseconds. */
  readonly latency: Summary
}

/**
 * Keeps `concurrency` calls of `call` in flight for `durationMs`. Each of
 * `concurrency` workers starts its next call as soon as its last one ends,
 * until the deadline. A failed call is counted and the worker goes on.
 */
export const runClosedLoop = async (concurrency: number, durationMs: number, call: () => Promise<void>): Promise<ClosedLoopResult> => {
  const durations: Array<number> = []
  let failures = 0
  let firstError: string | undefined
  const start = performance.now()
  const deadline = start + durationMs
  let lastEnd = start

  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now()
      try {
        await call()
        durations.push(performance.now() - started)
      } catch (error) {
        failures++
        firstError ??= error instanceof Error ? error.message : String(error)
      }
      lastEnd = Math.max(lastEnd, performance.now())
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))

  const elapsedMs = lastEnd - start
  return {
    calls: durations.length,
    failures,
    firstError,
    elapsedMs,
    callsPerSecond: elapsedMs > 0 ? (durations.length * 1000) / elapsedMs : Number.NaN,
    latency: summarize(durations)
  }
}
