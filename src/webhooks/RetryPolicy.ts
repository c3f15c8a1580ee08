import { Data, Duration, Effect, Option, Schedule, ScheduleDecision, ScheduleIntervals } from "effect"

/**
 * Delays between the attempts of one delivery: the first retry 1 minute after
 * the first failure, then 5 minutes, 30 minutes, 2 hours and 8 hours. A
 * delivery whose sixth attempt fails is given up.
 */
export const retrySchedule: Schedule.Schedule<Duration.Duration> = Schedule.fromDelays(
  "1 minute",
  "5 minutes",
  "30 minutes",
  "2 hours",
  "8 hours"
)

/** Attempts a delivery gets before it is marked failed: the first one plus one per retry delay. */
export const maxAttempts = 6

/**
 * Returns the delay before the next attempt after attempt `failedAttempt`
 * (1-based) failed with a retryable error, or none once the schedule is
 * exhausted. The schedule is stepped from its initial state and never slept
 * on, because the next attempt time is stored in the database.
 */
export const retryDelay = (failedAttempt: number): Option.Option<Duration.Duration> => {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) return Option.none()
  // Delays are relative, so any fixed origin works.
  const origin = 0
  let state = retrySchedule.initial
  for (let step = 1; step <= failedAttempt; step++) {
    const [next, , decision] = Effect.runSync(retrySchedule.step(origin, undefined, state))
    if (ScheduleDecision.isDone(decision)) return Option.none()
    if (step === failedAttempt) {
      return Option.some(Duration.millis(ScheduleIntervals.start(decision.intervals) - origin))
    }
    state = next
  }
  return Option.none()
}

/** Observed result of one HTTP attempt, before it is judged. */
export type SendResult =
  | {
    readonly _tag: "Response"
    readonly statusCode: number
    /** `Location` header of the response, if any. */
    readonly location: string | undefined
    /** The first 4 KiB of the response body, decoded as UTF-8. */
    readonly responseBody: string
  }
  | { readonly _tag: "TimedOut"; readonly timeout: Duration.Duration }
  | { readonly _tag: "ConnectionFailed"; readonly reason: string }
  /** Nothing was sent, because the URL's host is or resolves only to private addresses. */
  | { readonly _tag: "Blocked"; readonly reason: string }

/** The endpoint responded with a redirect, which is never followed. */
export class EndpointRedirected extends Data.TaggedError("EndpointRedirected")<{
  readonly statusCode: number
  readonly location: string | undefined
}> {
  readonly retryable = false
  override get message() {
    const target = this.location === undefined ? "without a Location header" : `to ${this.location}`
    return `The endpoint responded with ${this.statusCode}, a redirect ${target}. Redirects are not followed, ` +
      "so update the subscription URL to the final URL."
  }
}

/** The endpoint responded with a 4xx status, which is not retried. */
export class EndpointRejected extends Data.TaggedError("EndpointRejected")<{ readonly statusCode: number }> {
  readonly retryable = false
  override get message() {
    return `The endpoint responded with ${this.statusCode}. Client errors are not retried, ` +
      "so fix the handler, then retry the delivery."
  }
}

/** The endpoint responded with 5xx or another status that is neither success, redirect nor client error. */
export class EndpointFailed extends Data.TaggedError("EndpointFailed")<{ readonly statusCode: number }> {
  readonly retryable = true
  override get message() {
    return `The endpoint responded with ${this.statusCode}.`
  }
}

/** No response arrived within the delivery timeout, so the request was aborted. */
export class DeliveryTimedOut extends Data.TaggedError("DeliveryTimedOut")<{ readonly timeout: Duration.Duration }> {
  readonly retryable = true
  override get message() {
    return `The endpoint did not complete its response within ${Duration.toMillis(this.timeout)} ms, so the request was aborted.`
  }
}

/** The request failed before a response: connection refused or reset, DNS failure, TLS error. */
export class EndpointUnreachable extends Data.TaggedError("EndpointUnreachable")<{ readonly reason: string }> {
  readonly retryable = true
  override get message() {
    return `The request failed before a complete response arrived: ${this.reason}`
  }
}

/**
 * The request was not sent, because the URL's host is or resolves only to
 * private addresses. Retried, because a host name's DNS answer can change.
 */
export class TargetBlocked extends Data.TaggedError("TargetBlocked")<{ readonly reason: string }> {
  readonly retryable = true
  override get message() {
    return `The request was not sent: ${this.reason}.`
  }
}

/** Reason an attempt did not succeed. `retryable` is true when the retry schedule applies. */
export type DeliveryError =
  | EndpointRedirected
  | EndpointRejected
  | EndpointFailed
  | DeliveryTimedOut
  | EndpointUnreachable
  | TargetBlocked

/** Returns none for a successful attempt (2xx), otherwise the error that describes the failure. */
export const classify = (result: SendResult): Option.Option<DeliveryError> => {
  switch (result._tag) {
    case "TimedOut":
      return Option.some(new DeliveryTimedOut({ timeout: result.timeout }))
    case "ConnectionFailed":
      return Option.some(new EndpointUnreachable({ reason: result.reason }))
    case "Blocked":
      return Option.some(new TargetBlocked({ reason: result.reason }))
    case "Response": {
      const status = result.statusCode
      if (status >= 200 && status < 300) return Option.none()
      if (status >= 300 && status < 400) {
        return Option.some(new EndpointRedirected({ statusCode: status, location: result.location }))
      }
      if (status >= 400 && status < 500) return Option.some(new EndpointRejected({ statusCode: status }))
      return Option.some(new EndpointFailed({ statusCode: status }))
    }
  }
}

/** Outcome of one attempt as stored on the attempt row. */
export type AttemptOutcome = "succeeded" | "retry" | "failed"

/** The judgement of one attempt: its outcome, its error and, for a retry, when the next attempt is due. */
export interface AttemptVerdict {
  readonly outcome: AttemptOutcome
  readonly error: Option.Option<DeliveryError>
  readonly retryAfter: Option.Option<Duration.Duration>
}

/**
 * Judges attempt number `attempt` (1-based) of a delivery: succeeded on 2xx,
 * failed at once on a redirect or a 4xx, and otherwise retried after the
 * schedule's delay, or failed once the schedule is exhausted.
 */
export const judgeAttempt = (attempt: number, result: SendResult): AttemptVerdict => {
  const error = classify(result)
  if (Option.isNone(error)) return { outcome: "succeeded", error, retryAfter: Option.none() }
  if (!error.value.retryable) return { outcome: "failed", error, retryAfter: Option.none() }
  const retryAfter = retryDelay(attempt)
  return { outcome: Option.isSome(retryAfter) ? "retry" : "failed", error, retryAfter }
}
