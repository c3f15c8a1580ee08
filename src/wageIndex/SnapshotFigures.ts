import { DateTime } from "effect"
import { Tier, WageBand as WageBandSchema } from "../events/Catalog.ts"
import { maxScore, tierThresholds } from "../scores/SalesLabScore.ts"
import type { PerTierCount } from "./Api.ts"

/** One pay band of a snapshot: the score range, population and on-target earnings of one tier. */
export type WageBand = typeof WageBandSchema.Type

/** On-target earnings of one tier, in US dollars per year. */
export interface OteRange {
  readonly p25: number
  readonly median: number
  readonly p75: number
}

/**
 * On-target earnings (base plus variable at 100% of quota, US dollars per
 * year) quoted for reps of each tier.
 * NOTE: these figures are a fixed table, not measured from salary data or
 * from the snapshot's reps. Only the tier populations of a snapshot are
 * measured, so replace the table with sourced figures before publishing.
 */
export const oteByTier: Readonly<Record<Tier, OteRange>> = {
  bronze: { p25: 62_000, median: 74_000, p75: 86_000 },
  silver: { p25: 84_000, median: 98_000, p75: 112_000 },
  gold: { p25: 118_000, median: 134_000, p75: 152_000 },
  platinum: { p25: 148_000, median: 168_000, p75: 192_000 },
  diamond: { p25: 185_000, median: 215_000, p75: 250_000 }
}

/** Lowest and highest Sales Lab Score of each tier, both inclusive. */
export const tierScoreRanges: Readonly<Record<Tier, { readonly min: number; readonly max: number }>> = {
  bronze: { min: 0, max: tierThresholds.silver - 1 },
  silver: { min: tierThresholds.silver, max: tierThresholds.gold - 1 },
  gold: { min: tierThresholds.gold, max: tierThresholds.platinum - 1 },
  platinum: { min: tierThresholds.platinum, max: tierThresholds.diamond - 1 },
  diamond: { min: tierThresholds.diamond, max: maxScore }
}

/** One rep's latest Sales Lab Score. */
export interface RepScore {
  readonly total_score: number
  readonly tier: Tier
}

/** The figures of a snapshot, computed from the reps' scores. */
export interface SnapshotFigures {
  readonly population_size: number
  readonly median_score: number
  readonly median_percentile: number
  readonly per_tier_count: PerTierCount
  readonly bands: ReadonlyArray<WageBand>
}

const monthNames = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December"
] as const

/** Builds the label of a snapshot generated at `at`, such as `Q2 2026 · May`, from its month in `timeZone`. */
export const snapshotLabel = (at: Date, timeZone: DateTime.TimeZone): string => {
  const local = DateTime.toParts(DateTime.unsafeMakeZoned(at, { timeZone }))
  const quarter = Math.floor((local.month - 1) / 3) + 1
  return `Q${quarter} ${local.year} · ${monthNames[local.month - 1]}`
}

/** Returns the median of ascending `sorted`, rounded to an integer: the mean of the two middle values for an even count. */
const medianOf = (sorted: ReadonlyArray<number>): number => {
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2)
}

/**
 * Computes the figures of a snapshot from every rep's latest score. The
 * median percentile is the percentile rank of the median score: the reps
 * below it plus half of the reps equal to it, over all reps, rounded. Returns
 * undefined for an empty population, which has no median.
 */
export const snapshotFigures = (scores: ReadonlyArray<RepScore>): SnapshotFigures | undefined => {
  if (scores.length === 0) return undefined

  const sorted = scores.map((score) => score.total_score).sort((a, b) => a - b)
  const median = medianOf(sorted)
  const below = sorted.filter((score) => score < median).length
  const equal = sorted.filter((score) => score === median).length
  const medianPercentile = Math.round((100 * (below + equal / 2)) / sorted.length)

  const perTierCount: Record<Tier, number> = { bronze: 0, silver: 0, gold: 0, platinum: 0, diamond: 0 }
  for (const score of scores) perTierCount[score.tier] += 1

  const bands: Array<WageBand> = Tier.literals.map((tier) => ({
    tier,
    score_min: tierScoreRanges[tier].min,
    score_max: tierScoreRanges[tier].max,
    population: perTierCount[tier],
    p25_ote_usd: oteByTier[tier].p25,
    median_ote_usd: oteByTier[tier].median,
    p75_ote_usd: oteByTier[tier].p75
  }))

  return {
    population_size: scores.length,
    median_score: median,
    median_percentile: medianPercentile,
    per_tier_count: perTierCount,
    bands
  }
}
