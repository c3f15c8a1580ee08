import { Schema } from "effect"

/** Every event kind a webhook subscription can receive, in the order of the developer reference. */
export const eventKinds = [
  "session.completed",
  "session.scorecard_finalized",
  "coaching.brief_delivered",
  "coaching.streak_broken",
  "badge.awarded",
  "real_call.imported",
  "churn_retro.published",
  "realtime.autopop_ready",
  "coverage.subscription_activated",
  "wage_index.published",
  "tournament.match_completed",
  "score.tier_changed",
  "assignment.completed"
] as const

/** The name of an event kind, such as `session.completed`. */
export const EventKind = Schema.Literal(...eventKinds).annotations({
  identifier: "EventKind",
  description: "Name of an event kind, such as session.completed."
})
export type EventKind = typeof EventKind.Type

/** One-line summary of each event kind, for the API docs and the event catalog. */
export const eventKindDescriptions: Record<EventKind, string> = {
  "session.completed": "A rep finished a practice session and its scorecard was stored.",
  "session.scorecard_finalized": "A practice session's scorecard is final: rubric scores, verdict, best and worst line.",
  "coaching.brief_delivered": "The weekly coaching brief of a rep was sent by email.",
  "coaching.streak_broken": "A rep's daily practice streak ended.",
  "badge.awarded": "A rep earned a badge; each badge is a separate event.",
  "real_call.imported": "A recorded Gong or Chorus call was imported and turned into a drill scenario.",
  "churn_retro.published": "Sales Lab published a churn retro; sent to every tenant that subscribes to it.",
  "realtime.autopop_ready": "The CRM summary of a finished realtime call is ready: summary, next step, topics, follow-up draft.",
  "coverage.subscription_activated": "A rep's Skill Insurance subscription became active.",
  "wage_index.published": "Sales Lab published a quarterly wage index issue; sent to every tenant that subscribes to it.",
  "tournament.match_completed": "A tournament match result was reported and final.",
  "score.tier_changed": "A rep's Sales Lab Score moved to another tier in the nightly recompute.",
  "assignment.completed": "A scored practice session closed a rep's open assignment."
}

/** Returns whether `value` is the name of an event kind. */
export const isEventKind = (value: string): value is EventKind => (eventKinds as ReadonlyArray<string>).includes(value)
