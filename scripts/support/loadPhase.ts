/**
 * One measured phase of a delivery benchmark: events published open-loop
 * at a fixed rate through the outbox, the arrival of each at the timed
 * receiver, and the bare-POST baseline at the same rate.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { deliveryHeaders } from "../../src/webhooks/Signing.ts"
import { postForPrefix } from "../../src/webhooks/WebhookSender.ts"
import { requestTimeoutMs } from "./api.ts"
import { benchmarkDeliveryId, benchmarkEventKind, benchmarkPayload, type OutboxPublisher, type StatusCounts, type Target } from "./outboxPublisher.ts"
import { epochNow, formatMs, summarize, type Summary, wallClockOffset } from "./report.ts"
import type { TimedReceiver } from "./timedReceiver.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One benchmark event or baseline request. Times are epoch milliseconds, NaN until they happen. */
export interface EventRecord {
  readonly sequence: number
  /** Index of its target in the phase's target list. */
  readonly target: number
  /** When the open-loop schedule meant it to start. */
  readonly scheduledAt: number
  startedAt: number
  /** When its transaction committed, or when the response of a baseline POST arrived. */
  completedAt: number
  /** First arrival at the receiver. */
  arrivedAt: number
  /** Whether publishing or posting it failed. */
  failed: boolean
}

/**
 * The events of a run by sequence number, with the arrivals that the
 * receiver reports. Sequence numbers are unique over the whole run, so an
 * arrival always finds its own event.
 */
export class EventBook {
  readonly records = new Map<number, EventRecord>()
  private nextSequence = 1
  /** Arrivals of a sequence that had arrived before, as at-least-once delivery allows. */
  duplicates = 0
  /** Arrivals of a sequence the book does not know. */
  unmatched = 0
  /** Records that have arrived at least once. */
  arrived = 0

  constructor(receiver: TimedReceiver) {
    receiver.onArrival((sequence, arrivedAt) => {
      const record = this.records.get(sequence)
      if (record === undefined) this.unmatched += 1
      else if (!Number.isNaN(record.arrivedAt)) this.duplicates += 1
      else {
        record.arrivedAt = arrivedAt
        this.arrived += 1
      }
    })
  }

  /** Adds a record with the next sequence number. */
  add(target: number, scheduledAt: number): EventRecord {
    const record: EventRecord = {
      sequence: this.nextSequence++,
      target,
      scheduledAt,
      startedAt: Number.NaN,
      completedAt: Number.NaN,
      arrivedAt: Number.NaN,
      failed: false
    }
    this.records.set(record.sequence, record)
    return record
  }
}

/** Timing of an open-loop schedule. */
export interface OpenLoopTiming {
  /** Epoch milliseconds of the first scheduled start. */
  readonly startedAt: number
  /** Largest delay between a scheduled start and the moment the loop started it, in milliseconds. */
  readonly maxStartLagMs: number
}

/**
 * Starts `send(index, scheduledAt)` for each index from 0 to `count - 1` at
 * `index / rate` seconds after the first, without waiting for earlier calls
 * (open loop): a slow call never delays the next one. Several calls start
 * in one timer tick when their times have passed. Resolves once every call
 * has been started, or early once `shouldStop` returns true.
 */
export const runOpenLoop = async (
  count: number,
  rate: number,
  send: (index: number, scheduledAt: number) => void,
  shouldStop: () => boolean = () => false
): Promise<OpenLoopTiming> => {
  const startedAt = epochNow()
  let index = 0
  let maxStartLagMs = 0
  while (index < count && !shouldStop()) {
    const now = epochNow()
    const due = Math.min(count, Math.floor(((now - startedAt) * rate) / 1000) + 1)
    for (; index < due; index++) {
      const scheduledAt = startedAt + (index * 1000) / rate
      maxStartLagMs = Math.max(maxStartLagMs, now - scheduledAt)
      send(index, scheduledAt)
    }
    if (index < count) await sleep(startedAt + (index * 1000) / rate - epochNow())
  }
  return { startedAt, maxStartLagMs }
}

/** Delay of this process's event loop over a phase, from `perf_hooks.monitorEventLoopDelay`. */
export interface LoopDelay {
  readonly p99Ms: number
  readonly maxMs: number
}

const watchLoopDelay = () => {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  return (): LoopDelay => {
    histogram.disable()
    return { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 }
  }
}

/** Outcome of a publishing phase. */
export interface PublishPhase {
  readonly records: ReadonlyArray<EventRecord>
  readonly timing: OpenLoopTiming
  /** Committed events per second, from the first scheduled start to the last commit. */
  readonly achievedRate: number
  readonly failures: number
  /** The first publishing error, for the report. */
  readonly firstError: string | undefined
  /** Event-loop delay of the publishing process, which delays the commit timestamps by as much. */
  readonly loopDelay: LoopDelay
}

/**
 * Publishes `rate * durationSeconds` events open-loop at `rate` per second,
 * event i to `targets[i % targets.length]`, and waits until every
 * transaction has settled.
 */
export const publishAtRate = async (options: {
  readonly publisher: OutboxPublisher
  readonly book: EventBook
  readonly targets: ReadonlyArray<Target>
  readonly rate: number
  readonly durationSeconds: number
  /** Stops publishing early when it returns true, such as after the service was stopped. */
  readonly shouldStop?: () => boolean
}): Promise<PublishPhase> => {
  const { publisher, book, targets, rate } = options
  const count = Math.max(1, Math.round(rate * options.durationSeconds))
  const records: Array<EventRecord> = []
  const pending: Array<Promise<void>> = []
  let failures = 0
  let firstError: string | undefined
  const stopWatching = watchLoopDelay()

  const timing = await runOpenLoop(count, rate, (index, scheduledAt) => {
    const target = index % targets.length
    const record = book.add(target, scheduledAt)
    records.push(record)
    pending.push(
      publisher.publish(record.sequence, targets[target]!).then(
        (published) => {
          record.startedAt = published.startedAt
          record.completedAt = published.committedAt
          if (published.queued !== 1) throw new Error(`Event ${record.sequence} queued ${published.queued} deliveries, expected 1.`)
        }
      ).catch((error: unknown) => {
        record.failed = true
        failures += 1
        firstError ??= error instanceof Error ? error.message : String(error)
      })
    )
  }, options.shouldStop)
  await Promise.all(pending)
  const loopDelay = stopWatching()

  const lastCommit = records.reduce((last, record) => Number.isNaN(record.completedAt) ? last : Math.max(last, record.completedAt), timing.startedAt)
  const committed = records.length - failures
  const achievedRate = committed / Math.max((lastCommit - timing.startedAt) / 1000, options.durationSeconds)
  return { records, timing, achievedRate, failures, firstError, loopDelay }
}

/**
 * Waits until every record that `awaited` selects has arrived, or until
 * `timeoutMs` has passed. Asks the receiver for its counters at each
 * check, which also flushes its pending arrival reports. Stops early once
 * `shouldStop` returns true. Returns the number still missing.
 */
export const waitForArrivals = async (
  receiver: TimedReceiver,
  records: ReadonlyArray<EventRecord>,
  timeoutMs: number,
  awaited: (record: EventRecord) => boolean = () => true,
  shouldStop: () => boolean = () => false
): Promise<number> => {
  const deadline = performance.now() + timeoutMs
  const missing = () => records.filter((record) => awaited(record) && !record.failed && Number.isNaN(record.arrivedAt)).length
  await receiver.counters()
  while (missing() > 0 && performance.now() < deadline && !shouldStop()) {
    await sleep(100)
    await receiver.counters()
  }
  return missing()
}

/**
 * Waits until no benchmark delivery is pending outside `excluded`, or until
 * `timeoutMs` has passed, so that the attempts of one phase are recorded
 * before the next phase starts. Returns the counts by status at the end.
 */
export const waitForRecords = async (
  publisher: OutboxPublisher,
  timeoutMs: number,
  excluded: ReadonlyArray<string> = []
): Promise<StatusCounts> => {
  const deadline = performance.now() + timeoutMs
  while ((await publisher.statusCounts({ excluded, pendingOnly: true })).pending !== undefined && performance.now() < deadline) {
    await sleep(100)
  }
  return publisher.statusCounts({ excluded })
}

/** Latencies of the records that `included` selects, from commit to arrival; events that never arrived count as missing. */
export const commitToArrival = (records: ReadonlyArray<EventRecord>, included: (record: EventRecord) => boolean = () => true): Summary => {
  const selected = records.filter((record) => included(record) && !record.failed)
  const arrived = selected.filter((record) => !Number.isNaN(record.arrivedAt))
  return summarize(arrived.map((record) => record.arrivedAt - record.completedAt), selected.length - arrived.length)
}

/** Returns a short text of a latency summary for progress lines, such as `median 4.10 ms, P99 38.2 ms`. */
export const describeLatency = (summary: Summary): string => {
  const withUnit = (value: number) => (Number.isFinite(value) ? `${formatMs(value)} ms` : formatMs(value))
  const missing = summary.missing > 0 ? `, ${summary.missing} missing` : ""
  return `median ${withUnit(summary.median)}, P99 ${withUnit(summary.p99)}${missing}`
}

/** A delivery's latency split at the start of its first attempt, as the service recorded it. */
export interface Stages {
  /** From commit to the start of the first attempt: notification, wake-up, claim and waiting for a free slot. */
  readonly commitToAttempt: Summary
  /** From the start of the first attempt to the arrival: signing and the POST up to the full body. */
  readonly attemptToArrival: Summary
}

/**
 * Splits the latency of the arrived records at `webhook_attempts.started_at`
 * of their first attempt. The service takes that time from `Date`, so it
 * has millisecond precision; it is converted to this process's time
 * through `wallClockOffset`.
 */
export const latencyStages = async (publisher: OutboxPublisher, records: ReadonlyArray<EventRecord>): Promise<Stages> => {
  const arrived = records.filter((record) => !record.failed && !Number.isNaN(record.arrivedAt))
  if (arrived.length === 0) return { commitToAttempt: summarize([]), attemptToArrival: summarize([]) }
  const sequences = arrived.map((record) => record.sequence)
  const rows = await publisher.query<{ sequence: number; started_at: Date }>(
    `SELECT (d.body::jsonb ->> 'sequence')::int AS sequence, a.started_at
     FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_pk = d.id AND a.attempt = 1
     WHERE d.event_kind = $1 AND (d.body::jsonb ->> 'sequence')::int BETWEEN $2 AND $3`,
    [benchmarkEventKind, Math.min(...sequences), Math.max(...sequences)]
  )
  // A `Date` time stands for the whole millisecond it truncates, so its middle is the best estimate.
  const toEpochNow = wallClockOffset() + 0.5
  const startedAt = new Map(rows.map((row) => [row.sequence, row.started_at.getTime() + toEpochNow]))
  const commitToAttempt: Array<number> = []
  const attemptToArrival: Array<number> = []
  for (const record of arrived) {
    const attemptAt = startedAt.get(record.sequence)
    if (attemptAt === undefined) continue
    commitToAttempt.push(attemptAt - record.completedAt)
    attemptToArrival.push(record.arrivedAt - attemptAt)
  }
  return { commitToAttempt: summarize(commitToAttempt), attemptToArrival: summarize(attemptToArrival) }
}

/** The bare-POST baseline of one rate. */
export interface BaselinePhase {
  /** From the start of each POST to its response, as the client sees it. */
  readonly roundTrip: Summary
  /** From the start of each POST to its arrival at the receiver. */
  readonly sendToArrival: Summary
  readonly achievedRate: number
  readonly failures: number
}

/**
 * Posts `rate * durationSeconds` signed benchmark bodies straight to the
 * receiver with `postForPrefix` (keep-alive, the client the service sends
 * with), open-loop at `rate` per second, target i mod n as
 * in `publishAtRate`. Each body is built as the publisher builds it and
 * carries its own sequence, and the headers are those the engine sets.
 */
export const postAtRate = async (options: {
  readonly receiver: TimedReceiver
  readonly book: EventBook
  readonly targets: ReadonlyArray<Target>
  readonly rate: number
  readonly durationSeconds: number
}): Promise<BaselinePhase> => {
  const { receiver, book, targets, rate } = options
  const count = Math.max(1, Math.round(rate * options.durationSeconds))
  const records: Array<EventRecord> = []
  const pending: Array<Promise<void>> = []
  let failures = 0

  const timing = await runOpenLoop(count, rate, (index, scheduledAt) => {
    const target = targets[index % targets.length]!
    const record = book.add(index % targets.length, scheduledAt)
    records.push(record)
    const scorecardId = crypto.randomUUID()
    const deliveryId = benchmarkDeliveryId(scorecardId, target.subscriptionId)
    const body = JSON.stringify(benchmarkPayload(record.sequence, target.companyId, deliveryId, scorecardId))
    const headers = deliveryHeaders({ deliveryId, eventKind: benchmarkEventKind, body, secret: target.secret })
    record.startedAt = epochNow()
    pending.push(
      postForPrefix({ url: receiver.url, headers, body }, requestTimeoutMs).then((result) => {
        record.completedAt = epochNow()
        if (result._tag !== "Response" || result.statusCode !== 200) throw new Error("The receiver did not respond 200 to a baseline POST.")
      }).catch(() => {
        record.failed = true
        failures += 1
      })
    )
  })
  await Promise.all(pending)
  await waitForArrivals(receiver, records, 5_000)

  const succeeded = records.filter((record) => !record.failed)
  const arrived = succeeded.filter((record) => !Number.isNaN(record.arrivedAt))
  const lastResponse = succeeded.reduce((last, record) => Math.max(last, record.completedAt), timing.startedAt)
  return {
    roundTrip: summarize(succeeded.map((record) => record.completedAt - record.startedAt)),
    sendToArrival: summarize(arrived.map((record) => record.arrivedAt - record.startedAt), succeeded.length - arrived.length),
    achievedRate: succeeded.length / Math.max((lastResponse - timing.startedAt) / 1000, options.durationSeconds),
    failures
  }
}
