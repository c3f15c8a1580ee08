import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"

/** Maximum requests per key in each window. */
export interface RateLimits {
  readonly perMinute: number
  readonly perDay: number
}

/** A key that used up one of its windows. `retryAfter` is the time until that window ends. */
export class RateLimitExceeded extends Data.TaggedError("RateLimitExceeded")<{
  readonly window: "minute" | "day"
  readonly limit: number
  readonly retryAfter: Duration.Duration
  /** Requests rejected in this window so far, this one included. */
  readonly rejections: number
}> {}

/**
 * Counts requests per key, an API token id, and rejects those past the limits.
 * A rejected request does not count against the limits, so a client that
 * retries too early does not push its own window further.
 *
 * NOTE: `layerMemory` keeps the counts in the memory of one process. With
 * several processes behind a load balancer each keeps its own count, so a
 * token may make up to the limit times the number of processes.
 */
export class RateLimiter extends Context.Tag("saleslab/RateLimiter")<RateLimiter, {
  /** Counts one request of `key`, or fails without counting it when a window is used up. */
  readonly consume: (key: string) => Effect.Effect<void, RateLimitExceeded>
}>() {
  /** In-memory counters with the limits of `AppConfig`. */
  static readonly layerMemory = Layer.effect(
    RateLimiter,
    Effect.map(AppConfig, (config) => makeMemory({ perMinute: config.rateLimitPerMinute, perDay: config.rateLimitPerDay }))
  )
}

interface Window {
  startedAt: number
  count: number
  rejections: number
}

interface Counters {
  readonly minute: Window
  readonly day: Window
}

const minuteMillis = 60_000
const dayMillis = 24 * 60 * minuteMillis

/** Keys whose day window has ended are dropped at most this often, which bounds the memory to the keys active in a day. */
const pruneIntervalMillis = minuteMillis

/** Starts a new window when the previous one has ended. */
const roll = (window: Window, lengthMillis: number, now: number) => {
  if (now >= window.startedAt + lengthMillis) {
    window.startedAt = now
    window.count = 0
    window.rejections = 0
  }
}

/**
 * Fixed-window counters held in a `Map`: each key's minute and day windows
 * start at its first request after the previous window ended. Like any fixed
 * window, a key may make up to twice the limit around the boundary of two
 * windows.
 */
export const makeMemory = (limits: RateLimits): Context.Tag.Service<RateLimiter> => {
  const counters = new Map<string, Counters>()
  let prunedAt = 0

  const prune = (now: number) => {
    if (now - prunedAt < pruneIntervalMillis) return
    prunedAt = now
    for (const [key, entry] of counters) {
      if (now >= entry.day.startedAt + dayMillis) counters.delete(key)
    }
  }

  const reject = (window: Window, name: "minute" | "day", limit: number, lengthMillis: number, now: number) => {
    window.rejections += 1
    return new RateLimitExceeded({
      window: name,
      limit,
      retryAfter: Duration.millis(window.startedAt + lengthMillis - now),
      rejections: window.rejections
    })
  }

  const consume = (key: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      prune(now)
      let entry = counters.get(key)
      if (entry === undefined) {
        entry = { minute: { startedAt: now, count: 0, rejections: 0 }, day: { startedAt: now, count: 0, rejections: 0 } }
        counters.set(key, entry)
      }
      roll(entry.minute, minuteMillis, now)
      roll(entry.day, dayMillis, now)

      // The day window is checked first: its wait is the longer one, so it is the one to report.
      if (entry.day.count >= limits.perDay) {
        return Effect.fail(reject(entry.day, "day", limits.perDay, dayMillis, now))
      }
      if (entry.minute.count >= limits.perMinute) {
        return Effect.fail(reject(entry.minute, "minute", limits.perMinute, minuteMillis, now))
      }
      entry.minute.count += 1
      entry.day.count += 1
      return Effect.void
    })

  return { consume }
}
