import { Schema } from "effect"

/**
 * Payloads of the two events a finished practice session emits, and the
 * delivery id of each per subscription. The encoded form of these schemas is
 * the exact JSON body a subscriber receives.
 */

/** Score of each rubric category, 0 to 10, keyed by category name such as `discovery`. */
export const CategoryScores = Schema.Record({
  key: Schema.String,
  value: Schema.Int.pipe(Schema.between(0, 10))
}).annotations({
  identifier: "CategoryScores",
  description: "Score of each rubric category, 0 to 10, keyed by category name such as discovery or objection_handling."
})

/** `pass` when the overall score reaches the scenario's pass mark, `fail` otherwise. */
export const Verdict = Schema.Literal("pass", "fail").annotations({
  identifier: "Verdict",
  description: "pass when the overall score is at or above the scenario's pass mark, fail otherwise."
})
export type Verdict = typeof Verdict.Type

/** Body of a `session.completed` delivery. */
export const SessionCompletedPayload = Schema.Struct({
  event_kind: Schema.Literal("session.completed"),
  company_id: Schema.UUID,
  session: Schema.Struct({
    id: Schema.UUID,
    user_id: Schema.UUID,
    scenario_id: Schema.UUID,
    ended_at: Schema.Date
  }),
  delivery_id: Schema.String
}).annotations({
  identifier: "SessionCompletedPayload",
  description: "A rep ended a practice session. It is sent when the session's scorecard is finalized."
})
export type SessionCompletedPayload = typeof SessionCompletedPayload.Type

/** Body of a `session.scorecard_finalized` delivery. */
export const ScorecardFinalizedPayload = Schema.Struct({
  event_kind: Schema.Literal("session.scorecard_finalized"),
  company_id: Schema.UUID,
  session_id: Schema.UUID,
  user_id: Schema.UUID,
  scorecard: Schema.Struct({
    id: Schema.UUID,
    overall_score: Schema.Int.pipe(Schema.between(0, 100)),
    verdict: Verdict,
    headline: Schema.String,
    category_scores: CategoryScores,
    best_line: Schema.String,
    worst_line: Schema.String,
    next_drill: Schema.String
  }),
  delivery_id: Schema.String
}).annotations({
  identifier: "ScorecardFinalizedPayload",
  description: "A practice session's scorecard is final: the full rubric and the best and worst lines."
})
export type ScorecardFinalizedPayload = typeof ScorecardFinalizedPayload.Type

/** Delivery id of a `session.completed` event for one subscription. */
export const sessionCompletedDeliveryId = (sessionId: string, subscriptionId: string): string =>
  `session.completed:${sessionId}:${subscriptionId}`

/** Delivery id of a `session.scorecard_finalized` event for one subscription. */
export const scorecardFinalizedDeliveryId = (scorecardId: string, subscriptionId: string): string =>
  `scorecard.finalized:${scorecardId}:${subscriptionId}`

/** Encodes a `session.completed` body to its JSON form, with `ended_at` as ISO 8601 with milliseconds. */
export const encodeSessionCompleted = Schema.encodeSync(SessionCompletedPayload)

/** Encodes a `session.scorecard_finalized` body to its JSON form. */
export const encodeScorecardFinalized = Schema.encodeSync(ScorecardFinalizedPayload)
