import type { Verdict } from "../events/Catalog.ts"

/** Inputs of the badge rules, gathered after a scorecard is stored. */
export interface BadgeFacts {
  /** Overall score of the new scorecard, 0 to 100. */
  readonly overallScore: number
  /** Verdict of the new scorecard. */
  readonly verdict: Verdict
  /** Completed practice sessions of the rep, the scored one included. */
  readonly completedSessions: number
  /** Consecutive practice days, in the company's time zone, of the run that contains the scored session's day. */
  readonly streakDays: number
}

/** One badge: its slug, its name and description for people, and the rule that earns it. */
export interface BadgeRule {
  readonly slug: string
  readonly title: string
  readonly description: string
  readonly isEarned: (facts: BadgeFacts) => boolean
}

/**
 * Every badge, in the order their events are published when one scorecard
 * earns several. A rule that holds for a rep who already has the badge
 * awards nothing: each badge is awarded once per user.
 */
export const badgeRules: ReadonlyArray<BadgeRule> = [
  {
    slug: "first_pass",
    title: "First pass",
    description: "A practice session reached the scenario's pass mark for the first time.",
    isEarned: (facts) => facts.verdict === "pass"
  },
  {
    slug: "ninety_score",
    title: "Ninety club",
    description: "A practice session scored 90 or more overall.",
    isEarned: (facts) => facts.overallScore >= 90
  },
  {
    slug: "perfect_score",
    title: "Perfect call",
    description: "A practice session scored 100 overall.",
    isEarned: (facts) => facts.overallScore === 100
  },
  {
    slug: "ten_sessions",
    title: "Ten sessions",
    description: "Ten practice sessions completed.",
    isEarned: (facts) => facts.completedSessions >= 10
  },
  {
    slug: "fifty_sessions",
    title: "Fifty sessions",
    description: "Fifty practice sessions completed.",
    isEarned: (facts) => facts.completedSessions >= 50
  },
  {
    slug: "streak_7",
    title: "Seven-day streak",
    description: "Practised on seven consecutive days in the company's time zone.",
    isEarned: (facts) => facts.streakDays >= 7
  },
  {
    slug: "streak_30",
    title: "Thirty-day streak",
    description: "Practised on thirty consecutive days in the company's time zone.",
    isEarned: (facts) => facts.streakDays >= 30
  }
]

/** Slugs of the badges whose rules hold for `facts`, in `badgeRules` order. */
export const earnedBadges = (facts: BadgeFacts): ReadonlyArray<string> =>
  badgeRules.filter((rule) => rule.isEarned(facts)).map((rule) => rule.slug)

/** The rule of badge `slug`, if there is one. */
export const badgeRule = (slug: string): BadgeRule | undefined => badgeRules.find((rule) => rule.slug === slug)
