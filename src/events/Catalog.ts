import { JSONSchema, Schema } from "effect"
import type { EventKind } from "./EventKinds.ts"
import { eventKindDescriptions } from "./EventKinds.ts"

/**
 * The event catalog: one schema per event kind, whose encoded form is the
 * exact JSON body a subscriber receives, with the kind's delivery-id format
 * and emit point. Ids are UUID strings and timestamps ISO 8601 with
 * milliseconds. Where the developer reference gives no delivery-id format,
 * the id is `<event_kind>:<natural key>:<subscription id>`.
 */

const Timestamp = Schema.Date.annotations({
  description: "ISO 8601 UTC timestamp with milliseconds.",
  jsonSchema: {
    type: "string",
    format: "date-time",
    pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$",
    description: "ISO 8601 UTC timestamp with milliseconds, such as 2026-05-19T13:42:08.123Z."
  }
})

const CalendarDate = Schema.String.pipe(Schema.pattern(/^\d{4}-\d{2}-\d{2}$/)).annotations({
  description: "Calendar date, YYYY-MM-DD."
})

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

/** Sales Lab Score tiers, lowest first. */
export const Tier = Schema.Literal("bronze", "silver", "gold", "platinum", "diamond").annotations({
  identifier: "Tier",
  description: "Sales Lab Score tier: bronze, silver, gold, platinum or diamond (lowest to highest)."
})
export type Tier = typeof Tier.Type

/** One pay band of a wage index issue: the on-target earnings of reps in one tier. */
export const WageBand = Schema.Struct({
  tier: Tier,
  score_min: Schema.Int,
  score_max: Schema.Int,
  population: Schema.Int,
  p25_ote_usd: Schema.Int,
  median_ote_usd: Schema.Int,
  p75_ote_usd: Schema.Int
}).annotations({
  identifier: "WageBand",
  description: "On-target earnings in US dollars (25th percentile, median, 75th percentile) of reps whose score lies in [score_min, score_max]."
})

const envelope = <K extends EventKind>(kind: K) => ({
  event_kind: Schema.Literal(kind),
  company_id: Schema.UUID.annotations({ description: "The receiving tenant." })
})

const DeliveryId = Schema.String.annotations({ description: "Same value as the x-saleslab-delivery-id header." })

/** Body of a `session.completed` delivery. */
export const SessionCompleted = Schema.Struct({
  ...envelope("session.completed"),
  session: Schema.Struct({
    id: Schema.UUID,
    user_id: Schema.UUID,
    scenario_id: Schema.UUID,
    ended_at: Timestamp
  }),
  delivery_id: DeliveryId
}).annotations({ identifier: "SessionCompletedPayload" })

/** Body of a `session.scorecard_finalized` delivery. */
export const ScorecardFinalized = Schema.Struct({
  ...envelope("session.scorecard_finalized"),
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
  delivery_id: DeliveryId
}).annotations({ identifier: "ScorecardFinalizedPayload" })

/** Body of a `coaching.brief_delivered` delivery. */
export const CoachingBriefDelivered = Schema.Struct({
  ...envelope("coaching.brief_delivered"),
  user_id: Schema.UUID,
  brief_id: Schema.UUID,
  week_start: CalendarDate,
  week_end: CalendarDate,
  summary: Schema.String,
  celebrate: Schema.Array(Schema.String),
  coach: Schema.Array(Schema.String)
}).annotations({ identifier: "CoachingBriefDeliveredPayload" })

/** Body of a `coaching.streak_broken` delivery. */
export const CoachingStreakBroken = Schema.Struct({
  ...envelope("coaching.streak_broken"),
  user_id: Schema.UUID,
  broke_at_value: Schema.Int.annotations({ description: "Length in days of the streak that ended." }),
  broken_at: Timestamp
}).annotations({ identifier: "CoachingStreakBrokenPayload" })

/** Body of a `badge.awarded` delivery. */
export const BadgeAwarded = Schema.Struct({
  ...envelope("badge.awarded"),
  user_id: Schema.UUID,
  badge_slug: Schema.String,
  awarded_at: Timestamp
}).annotations({ identifier: "BadgeAwardedPayload" })

/** Body of a `real_call.imported` delivery. */
export const RealCallImported = Schema.Struct({
  ...envelope("real_call.imported"),
  ingest_id: Schema.UUID,
  source_url: Schema.String,
  source_vendor: Schema.Literal("gong", "chorus"),
  generated_scenario_id: Schema.UUID,
  failure_moment: Schema.Struct({
    buyer_line: Schema.String,
    rep_response: Schema.String,
    diagnosis: Schema.String,
    better_response: Schema.String
  })
}).annotations({ identifier: "RealCallImportedPayload" })

/** Body of a `churn_retro.published` delivery. */
export const ChurnRetroPublished = Schema.Struct({
  ...envelope("churn_retro.published"),
  slug: Schema.String,
  company_name: Schema.String,
  reason_short: Schema.String,
  what_we_changed: Schema.String,
  published_at: Timestamp
}).annotations({ identifier: "ChurnRetroPublishedPayload" })

/** Body of a `realtime.autopop_ready` delivery. */
export const RealtimeAutopopReady = Schema.Struct({
  ...envelope("realtime.autopop_ready"),
  assist_id: Schema.UUID,
  user_id: Schema.UUID,
  summary: Schema.String,
  next_step: Schema.String,
  key_topics: Schema.Array(Schema.String),
  draft_followup_email: Schema.String,
  duration_seconds: Schema.Int,
  delivery_id: DeliveryId
}).annotations({ identifier: "RealtimeAutopopReadyPayload" })

/** Body of a `coverage.subscription_activated` delivery. */
export const CoverageSubscriptionActivated = Schema.Struct({
  ...envelope("coverage.subscription_activated"),
  user_id: Schema.UUID,
  plan: Schema.String,
  stripe_subscription_id: Schema.String,
  activated_at: Timestamp,
  delivery_id: DeliveryId
}).annotations({ identifier: "CoverageSubscriptionActivatedPayload" })

/** Body of a `wage_index.published` delivery. */
export const WageIndexPublished = Schema.Struct({
  ...envelope("wage_index.published"),
  snapshot_id: Schema.UUID,
  label: Schema.String,
  population_size: Schema.Int,
  median_score: Schema.Int,
  median_percentile: Schema.Int,
  per_tier_count: Schema.Struct({
    bronze: Schema.Int,
    silver: Schema.Int,
    gold: Schema.Int,
    platinum: Schema.Int,
    diamond: Schema.Int
  }),
  bands: Schema.Array(WageBand),
  generated_at: Timestamp,
  published_at: Timestamp,
  public_url: Schema.String,
  delivery_id: DeliveryId
}).annotations({ identifier: "WageIndexPublishedPayload" })

/** Body of a `tournament.match_completed` delivery. */
export const TournamentMatchCompleted = Schema.Struct({
  ...envelope("tournament.match_completed"),
  match_id: Schema.UUID,
  tournament: Schema.Struct({ slug: Schema.String, title: Schema.String }),
  winner_team_id: Schema.UUID,
  loser_team_id: Schema.UUID,
  team_a_id: Schema.UUID,
  team_b_id: Schema.UUID,
  team_a_score: Schema.Int,
  team_b_score: Schema.Int,
  reported_by_user_id: Schema.UUID,
  winner_captain_user_id: Schema.UUID,
  ended_at: Timestamp,
  delivery_id: DeliveryId
}).annotations({ identifier: "TournamentMatchCompletedPayload" })

/** Body of a `score.tier_changed` delivery. */
export const ScoreTierChanged = Schema.Struct({
  ...envelope("score.tier_changed"),
  user_id: Schema.UUID,
  from_tier: Tier,
  to_tier: Tier,
  direction: Schema.Literal("up", "down"),
  total_score: Schema.Int,
  percentile: Schema.Int.pipe(Schema.between(0, 100)),
  computed_at: Timestamp,
  delivery_id: DeliveryId
}).annotations({ identifier: "ScoreTierChangedPayload" })

/** Body of an `assignment.completed` delivery. */
export const AssignmentCompleted = Schema.Struct({
  ...envelope("assignment.completed"),
  assignment_id: Schema.UUID,
  user_id: Schema.UUID,
  scenario_id: Schema.UUID,
  session_id: Schema.UUID,
  scorecard_id: Schema.UUID,
  overall_score: Schema.Int.pipe(Schema.between(0, 100)),
  completed_at: Timestamp
}).annotations({ identifier: "AssignmentCompletedPayload" })

/** The fields of an event that its emit point supplies: all but the envelope and the delivery id. */
export type EventFields<S extends Schema.Schema.AnyNoContext> = Omit<
  Schema.Schema.Type<S>,
  "event_kind" | "company_id" | "delivery_id"
>

/** One event kind: its body schema, where it is emitted, and how its deliveries are identified. */
export interface EventDefinition<K extends EventKind, S extends Schema.Schema.AnyNoContext> {
  readonly kind: K
  readonly description: string
  readonly emitPoint: string
  readonly schema: S
  /** Key of one event of this kind within its tenant; publishing the same key twice is a no-op. */
  readonly naturalKey: (fields: EventFields<S>) => string
  /** The delivery-id format as documented, such as `session.completed:<session_id>:<subscription_id>`. */
  readonly deliveryIdFormat: string
  /** Delivery id of the event for one subscription. */
  readonly deliveryId: (fields: EventFields<S>, subscriptionId: string) => string
  /** Whether the kind goes to every tenant with a matching subscription instead of one. */
  readonly broadcast: boolean
  /** A realistic body, encoded through the schema for the docs. */
  readonly example: Schema.Schema.Type<S>
}

const define = <K extends EventKind, S extends Schema.Schema.AnyNoContext>(
  definition: Omit<EventDefinition<K, S>, "description" | "broadcast"> & { readonly broadcast?: boolean }
): EventDefinition<K, S> => ({
  ...definition,
  description: eventKindDescriptions[definition.kind],
  broadcast: definition.broadcast ?? false
})

const iso = (date: Date) => date.toISOString()

const exampleCompany = "3f1c2a9e-6b7d-4e21-9a55-0c2d8e4b7a10"
const exampleUser = "9b2e4f61-1c3a-4d8e-b7f0-52a6c9d13e84"
const exampleScenario = "c4d81e27-5f0b-4a39-8e6d-7b1f2a90c365"
const exampleSession = "5e7a0b3c-9d24-4f18-a6c1-e83b2d7f4906"
const exampleScorecard = "7c3f5a1d-2e8b-4c60-9f47-1a0d6b3e8c25"
const exampleTime = new Date("2026-05-19T13:42:08.123Z")
const exampleSubscription = "sub_9eXk2LmQ4rT7vB1nZ8cY3wPa"

/** Every event kind, in the order of the developer reference. */
export const catalog = {
  "session.completed": define({
    kind: "session.completed",
    deliveryIdFormat: "session.completed:<session_id>:<subscription_id>",
    emitPoint: "POST /api/webhooks/elevenlabs: a post-call transcription completes the session and inserts its scorecard.",
    schema: SessionCompleted,
    naturalKey: (fields) => fields.session.id,
    deliveryId: (fields, subscriptionId) => `session.completed:${fields.session.id}:${subscriptionId}`,
    example: {
      event_kind: "session.completed",
      company_id: exampleCompany,
      session: { id: exampleSession, user_id: exampleUser, scenario_id: exampleScenario, ended_at: exampleTime },
      delivery_id: `session.completed:${exampleSession}:${exampleSubscription}`
    }
  }),
  "session.scorecard_finalized": define({
    kind: "session.scorecard_finalized",
    deliveryIdFormat: "scorecard.finalized:<scorecard_id>:<subscription_id>",
    emitPoint: "POST /api/webhooks/elevenlabs: the same scorecard insert as session.completed.",
    schema: ScorecardFinalized,
    naturalKey: (fields) => fields.scorecard.id,
    deliveryId: (fields, subscriptionId) => `scorecard.finalized:${fields.scorecard.id}:${subscriptionId}`,
    example: {
      event_kind: "session.scorecard_finalized",
      company_id: exampleCompany,
      session_id: exampleSession,
      user_id: exampleUser,
      scorecard: {
        id: exampleScorecard,
        overall_score: 87,
        verdict: "pass",
        headline: "Strong discovery, clean close.",
        category_scores: { discovery: 9, objection_handling: 8, control: 8 },
        best_line: "What would it cost you if the Q3 launch slipped a month?",
        worst_line: "Honestly, our price is what it is.",
        next_drill: "objection handling under price pressure"
      },
      delivery_id: `scorecard.finalized:${exampleScorecard}:${exampleSubscription}`
    }
  }),
  "coaching.brief_delivered": define({
    kind: "coaching.brief_delivered",
    deliveryIdFormat: "coaching.brief_delivered:<brief_id>:<subscription_id>",
    emitPoint: "The Sunday-evening coaching-briefs job, after the brief's email is sent.",
    schema: CoachingBriefDelivered,
    naturalKey: (fields) => fields.brief_id,
    deliveryId: (fields, subscriptionId) => `coaching.brief_delivered:${fields.brief_id}:${subscriptionId}`,
    example: {
      event_kind: "coaching.brief_delivered",
      company_id: exampleCompany,
      user_id: exampleUser,
      brief_id: "2a6d9c14-8e3f-4b07-a1d5-6f92c0e7b348",
      week_start: "2026-05-11",
      week_end: "2026-05-17",
      summary: "Strong week: passed three of four scenarios, discovery keeps improving.",
      celebrate: ["Passed the renewal scenario at 91", "Asked for the budget owner early", "Four practice days in a row"],
      coach: ["Pause after the price objection", "Summarise the buyer's pain before pitching", "Close with a dated next step"]
    }
  }),
  "coaching.streak_broken": define({
    kind: "coaching.streak_broken",
    deliveryIdFormat: "coaching.streak_broken:<user_id>:<broken_at>:<subscription_id>",
    emitPoint: "POST /api/coaching/streak: the daily check-in that finds the streak broken.",
    schema: CoachingStreakBroken,
    naturalKey: (fields) => `${fields.user_id}:${iso(fields.broken_at)}`,
    deliveryId: (fields, subscriptionId) =>
      `coaching.streak_broken:${fields.user_id}:${iso(fields.broken_at)}:${subscriptionId}`,
    example: {
      event_kind: "coaching.streak_broken",
      company_id: exampleCompany,
      user_id: exampleUser,
      broke_at_value: 12,
      broken_at: exampleTime
    }
  }),
  "badge.awarded": define({
    kind: "badge.awarded",
    deliveryIdFormat: "badge.awarded:<user_id>:<badge_slug>:<subscription_id>",
    emitPoint: "The badge rules run after each scorecard insert, one event per new user_badges row.",
    schema: BadgeAwarded,
    naturalKey: (fields) => `${fields.user_id}:${fields.badge_slug}`,
    deliveryId: (fields, subscriptionId) => `badge.awarded:${fields.user_id}:${fields.badge_slug}:${subscriptionId}`,
    example: {
      event_kind: "badge.awarded",
      company_id: exampleCompany,
      user_id: exampleUser,
      badge_slug: "ninety_score",
      awarded_at: exampleTime
    }
  }),
  "real_call.imported": define({
    kind: "real_call.imported",
    deliveryIdFormat: "real_call.imported:<ingest_id>:<subscription_id>",
    emitPoint: "POST /api/integrations/calls, after the generated scenario is stored.",
    schema: RealCallImported,
    naturalKey: (fields) => fields.ingest_id,
    deliveryId: (fields, subscriptionId) => `real_call.imported:${fields.ingest_id}:${subscriptionId}`,
    example: {
      event_kind: "real_call.imported",
      company_id: exampleCompany,
      ingest_id: "61f0b8d2-3c7a-4e95-b2d4-9a8e1f6c0b37",
      source_url: "https://app.gong.io/call?id=8812734",
      source_vendor: "gong",
      generated_scenario_id: exampleScenario,
      failure_moment: {
        buyer_line: "We already have a vendor for this.",
        rep_response: "Sure, but ours is better.",
        diagnosis: "The rep defended instead of asking what the current vendor misses.",
        better_response: "Makes sense. What would you change about how it works today?"
      }
    }
  }),
  "churn_retro.published": define({
    kind: "churn_retro.published",
    deliveryIdFormat: "churn_retro.published:<slug>:<subscription_id>",
    emitPoint: "POST /api/admin/retros (operator): sent to every tenant whose subscription matches.",
    schema: ChurnRetroPublished,
    broadcast: true,
    naturalKey: (fields) => fields.slug,
    deliveryId: (fields, subscriptionId) => `churn_retro.published:${fields.slug}:${subscriptionId}`,
    example: {
      event_kind: "churn_retro.published",
      company_id: exampleCompany,
      slug: "westwind-q1-2026",
      company_name: "Westwind Logistics",
      reason_short: "Tried to roll out to 4 pods in 4 weeks.",
      what_we_changed: "Mandatory 2-pod cap on rollouts under 60 days.",
      published_at: exampleTime
    }
  }),
  "realtime.autopop_ready": define({
    kind: "realtime.autopop_ready",
    deliveryIdFormat: "realtime_autopop.<assist_id>:<subscription_id>",
    emitPoint: "POST /api/realtime/sessions/{id}/autopop, after the autopop is generated and stored.",
    schema: RealtimeAutopopReady,
    naturalKey: (fields) => fields.assist_id,
    deliveryId: (fields, subscriptionId) => `realtime_autopop.${fields.assist_id}:${subscriptionId}`,
    example: {
      event_kind: "realtime.autopop_ready",
      company_id: exampleCompany,
      assist_id: "0d4b7e92-6a1c-4f38-9e25-b3c8a7d1f064",
      user_id: exampleUser,
      summary: "Discovery call with the VP of Operations. Current tool fails on multi-site routing. Budget is approved for Q3.",
      next_step: "Send the security questionnaire to Dana by Friday.",
      key_topics: ["pricing", "security review", "Q3 timeline"],
      draft_followup_email: "Subject: Next steps after today's call\n\nHi Dana, thanks for the time today...",
      duration_seconds: 540,
      delivery_id: `realtime_autopop.0d4b7e92-6a1c-4f38-9e25-b3c8a7d1f064:${exampleSubscription}`
    }
  }),
  "coverage.subscription_activated": define({
    kind: "coverage.subscription_activated",
    deliveryIdFormat: "coverage_activated:<user_id>:<subscription_id>",
    emitPoint: "POST /api/webhooks/stripe: a Skill Insurance subscription moves from paused, incomplete or new to active. The delivery id names the user, so a subscription receives only a user's first activation.",
    schema: CoverageSubscriptionActivated,
    naturalKey: (fields) => `${fields.stripe_subscription_id}:${iso(fields.activated_at)}`,
    deliveryId: (fields, subscriptionId) => `coverage_activated:${fields.user_id}:${subscriptionId}`,
    example: {
      event_kind: "coverage.subscription_activated",
      company_id: exampleCompany,
      user_id: exampleUser,
      plan: "individual",
      stripe_subscription_id: "sub_1PqR2sT3uV4wX5yZ",
      activated_at: exampleTime,
      delivery_id: `coverage_activated:${exampleUser}:${exampleSubscription}`
    }
  }),
  "wage_index.published": define({
    kind: "wage_index.published",
    deliveryIdFormat: "wage_index.published:<snapshot_id>:<published_at>:<subscription_id>",
    emitPoint: "PATCH /api/admin/wage-index/{snapshot_id} with publish true (operator): sent to every tenant with a matching active subscription.",
    schema: WageIndexPublished,
    broadcast: true,
    naturalKey: (fields) => `${fields.snapshot_id}:${iso(fields.published_at)}`,
    deliveryId: (fields, subscriptionId) =>
      `wage_index.published:${fields.snapshot_id}:${iso(fields.published_at)}:${subscriptionId}`,
    example: {
      event_kind: "wage_index.published",
      company_id: exampleCompany,
      snapshot_id: "b87e2d50-4f19-4c6a-8d03-e1a5f9c27b46",
      label: "Q2 2026 · May",
      population_size: 4218,
      median_score: 612,
      median_percentile: 50,
      per_tier_count: { bronze: 421, silver: 1283, gold: 1604, platinum: 712, diamond: 198 },
      bands: [
        { tier: "gold", score_min: 600, score_max: 749, population: 1604, p25_ote_usd: 118000, median_ote_usd: 134000, p75_ote_usd: 152000 }
      ],
      generated_at: new Date("2026-05-18T06:45:00.000Z"),
      published_at: exampleTime,
      public_url: "https://saleslab.cloud/wage-index",
      delivery_id: `wage_index.published:b87e2d50-4f19-4c6a-8d03-e1a5f9c27b46:${iso(exampleTime)}:${exampleSubscription}`
    }
  }),
  "tournament.match_completed": define({
    kind: "tournament.match_completed",
    deliveryIdFormat: "tournament_match.<match_id>.completed",
    emitPoint: "POST /api/tournament-matches/{id}/result, after the match is final and the loser eliminated.",
    schema: TournamentMatchCompleted,
    naturalKey: (fields) => fields.match_id,
    deliveryId: (fields) => `tournament_match.${fields.match_id}.completed`,
    example: {
      event_kind: "tournament.match_completed",
      company_id: exampleCompany,
      match_id: "e2c7a915-0b4d-4f86-93a1-5d8f6b2c0e73",
      tournament: { slug: "spring-2026-cup", title: "Spring 2026 Cup" },
      winner_team_id: "1a9f3c57-d2e8-4b06-a7c4-80e5b1d92f36",
      loser_team_id: "4d6b0e83-7f25-4a19-b8c3-2e1a9d5f7c04",
      team_a_id: "1a9f3c57-d2e8-4b06-a7c4-80e5b1d92f36",
      team_b_id: "4d6b0e83-7f25-4a19-b8c3-2e1a9d5f7c04",
      team_a_score: 87,
      team_b_score: 71,
      reported_by_user_id: exampleUser,
      winner_captain_user_id: exampleUser,
      ended_at: exampleTime,
      delivery_id: "tournament_match.e2c7a915-0b4d-4f86-93a1-5d8f6b2c0e73.completed"
    }
  }),
  "score.tier_changed": define({
    kind: "score.tier_changed",
    deliveryIdFormat: "score_tier.<user_id>.<computed_at>",
    emitPoint: "The nightly recompute-scores job, when a rep's fresh tier differs from the prior one.",
    schema: ScoreTierChanged,
    naturalKey: (fields) => `${fields.user_id}:${iso(fields.computed_at)}`,
    deliveryId: (fields) => `score_tier.${fields.user_id}.${iso(fields.computed_at)}`,
    example: {
      event_kind: "score.tier_changed",
      company_id: exampleCompany,
      user_id: exampleUser,
      from_tier: "silver",
      to_tier: "gold",
      direction: "up",
      total_score: 720,
      percentile: 64,
      computed_at: new Date("2026-05-19T06:45:00.000Z"),
      delivery_id: `score_tier.${exampleUser}.2026-05-19T06:45:00.000Z`
    }
  }),
  "assignment.completed": define({
    kind: "assignment.completed",
    deliveryIdFormat: "assignment.completed:<assignment_id>:<subscription_id>",
    emitPoint: "POST /api/webhooks/elevenlabs: the scorecard insert closes the rep's oldest open assignment for the scenario.",
    schema: AssignmentCompleted,
    naturalKey: (fields) => fields.assignment_id,
    deliveryId: (fields, subscriptionId) => `assignment.completed:${fields.assignment_id}:${subscriptionId}`,
    example: {
      event_kind: "assignment.completed",
      company_id: exampleCompany,
      assignment_id: "8f3a6c21-4b9e-4d70-a5f2-1c7e0b9d3a58",
      user_id: exampleUser,
      scenario_id: exampleScenario,
      session_id: exampleSession,
      scorecard_id: exampleScorecard,
      overall_score: 87,
      completed_at: exampleTime
    }
  })
} as const satisfies { readonly [K in EventKind]: EventDefinition<K, Schema.Schema.AnyNoContext> }

export type Catalog = typeof catalog

/** Encodes a whole body of `kind` to its JSON form, validating it against the kind's schema. */
export const encodeBody = <K extends EventKind>(kind: K, body: Schema.Schema.Type<Catalog[K]["schema"]>): unknown =>
  Schema.encodeSync(catalog[kind].schema as Schema.Schema<unknown, unknown>)(body)

/** The JSON Schema of the body of `kind`, generated from its Effect schema. */
export const bodyJsonSchema = (kind: EventKind): JSONSchema.JsonSchema7Root =>
  JSONSchema.make(catalog[kind].schema as Schema.Schema<unknown, unknown>)

/** The encoded example body of `kind`, as shown in the docs. */
export const exampleBody = (kind: EventKind): unknown =>
  Schema.encodeSync(catalog[kind].schema as Schema.Schema<unknown, unknown>)(catalog[kind].example)
