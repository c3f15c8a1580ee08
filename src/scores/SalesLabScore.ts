import { Tier } from "../events/Catalog.ts"

/** Length of the scoring window, in days. */
export const scoreWindowDays = 90

/** Length of one age band of the window, in days. */
export const ageBandDays = 30

/** Weight of a scorecard by age band: index 0 is the newest 30 days. */
export const ageBandWeights: ReadonlyArray<number> = [3, 2, 1]

/** Points of the volume bonus per scorecard in the window. */
export const bonusPerScorecard = 10

/** Maximum volume bonus, reached at ten scorecards. */
export const maxVolumeBonus = 100

/** Factor from the weighted mean overall score (0 to 100) to points (0 to 900). */
export const qualityFactor = 9

/** Highest possible score. */
export const maxScore = 1000

/**
 * Lowest score of each tier above bronze. Bronze is below 400, silver below
 * 550, gold below 700, platinum below 850 and diamond 850 and above.
 */
export const tierThresholds = {
  silver: 400,
  gold: 550,
  platinum: 700,
  diamond: 850
} as const satisfies Partial<Record<Tier, number>>

/** The scorecards of one rep in one age band. */
export interface AgeBandTotals {
  /** 0 for the newest 30 days, 1 for 30 to 60 days, 2 for 60 to 90 days. */
  readonly band: number
  readonly scorecards: number
  /** Sum of the overall scores (0 to 100 each) of those scorecards. */
  readonly overallScoreSum: number
}

/**
 * Computes the Sales Lab Score of a rep, 0 to 1000, from the per-band
 * totals of their scorecards of the last 90 days:
 *
 *   score = round(9 × weighted mean of overall scores + min(100, 10 × scorecards))
 *
 * The weighted mean gives each scorecard a weight by age: 3 when it is less
 * than 30 days old, 2 from 30 to 60 days, 1 from 60 to 90 days. The mean is
 * 0 to 100, so quality yields at most 900 points, and the volume bonus adds
 * 10 points per scorecard up to 100 (ten scorecards). A rep with no
 * scorecard in the window scores 0.
 */
export const salesLabScore = (bands: ReadonlyArray<AgeBandTotals>): number => {
  let weightedSum = 0
  let weightTotal = 0
  let scorecards = 0
  for (const band of bands) {
    const weight = ageBandWeights[band.band]
    if (weight === undefined) throw new RangeError(`Age band ${band.band} is outside the scoring window`)
    weightedSum += weight * band.overallScoreSum
    weightTotal += weight * band.scorecards
    scorecards += band.scorecards
  }
  if (scorecards === 0) return 0

  const quality = qualityFactor * (weightedSum / weightTotal)
  const volumeBonus = Math.min(maxVolumeBonus, bonusPerScorecard * scorecards)
  return Math.min(maxScore, Math.round(quality + volumeBonus))
}

/** Returns the tier of a score. */
export const tierOf = (score: number): Tier => {
  if (score >= tierThresholds.diamond) return "diamond"
  if (score >= tierThresholds.platinum) return "platinum"
  if (score >= tierThresholds.gold) return "gold"
  if (score >= tierThresholds.silver) return "silver"
  return "bronze"
}

/** `up` or `down` for a move between two different tiers, undefined when they are equal. */
export const tierDirection = (from: Tier, to: Tier): "up" | "down" | undefined => {
  const rank = Tier.literals.indexOf(to) - Tier.literals.indexOf(from)
  if (rank === 0) return undefined
  return rank > 0 ? "up" : "down"
}

/**
 * Computes the percentile of each score among all `scores`, in input order:
 * the share of the other scores that are strictly lower, 0 to 100, rounded.
 * Equal scores share a percentile. A single score is at the 100th percentile.
 */
export const percentiles = (scores: ReadonlyArray<number>): ReadonlyArray<number> => {
  if (scores.length === 1) return [100]
  const sorted = [...scores].sort((a, b) => a - b)
  const others = scores.length - 1
  return scores.map((score) => Math.round((100 * countBelow(sorted, score)) / others))
}

/** Number of entries of ascending `sorted` that are less than `value` (binary search). */
const countBelow = (sorted: ReadonlyArray<number>, value: number): number => {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (sorted[middle]! < value) low = middle + 1
    else high = middle
  }
  return low
}
