import { describe, expect, it } from "@effect/vitest"
import { DateTime } from "effect"
import type { Tier } from "../../src/events/Catalog.ts"
import { type RepScore, snapshotFigures, snapshotLabel, tierScoreRanges } from "../../src/wageIndex/SnapshotFigures.ts"

const utc = DateTime.zoneUnsafeMakeNamed("UTC")

const reps = (entries: ReadonlyArray<readonly [number, Tier]>): ReadonlyArray<RepScore> =>
  entries.map(([total_score, tier]) => ({ total_score, tier }))

describe("snapshotLabel", () => {
  it("names quarter, year and month", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["2026-05-18T06:45:00.000Z", "Q2 2026 · May"],
      ["2026-01-01T00:00:00.000Z", "Q1 2026 · January"],
      ["2026-03-31T23:59:59.999Z", "Q1 2026 · March"],
      ["2026-04-01T00:00:00.000Z", "Q2 2026 · April"],
      ["2026-09-30T12:00:00.000Z", "Q3 2026 · September"],
      ["2026-12-31T23:59:59.999Z", "Q4 2026 · December"]
    ]
    for (const [at, label] of cases) expect(snapshotLabel(new Date(at), utc), at).toBe(label)
  })

  it("uses the month in the time zone", () => {
    const at = new Date("2026-06-30T23:30:00.000Z")
    expect(snapshotLabel(at, utc)).toBe("Q2 2026 · June")
    expect(snapshotLabel(at, DateTime.zoneUnsafeMakeNamed("Asia/Tokyo"))).toBe("Q3 2026 · July")
    expect(snapshotLabel(new Date("2027-01-01T02:00:00.000Z"), DateTime.zoneUnsafeMakeNamed("America/New_York")))
      .toBe("Q4 2026 · December")
  })
})

describe("snapshotFigures", () => {
  it("computes median and tier counts", () => {
    const figures = snapshotFigures(reps([
      [900, "diamond"],
      [350, "bronze"],
      [612, "gold"],
      [420, "silver"],
      [710, "platinum"],
      [560, "gold"],
      [640, "gold"]
    ]))
    expect(figures?.population_size).toBe(7)
    expect(figures?.median_score).toBe(612)
    expect(figures?.median_percentile).toBe(50)
    expect(figures?.per_tier_count).toStrictEqual({ bronze: 1, silver: 1, gold: 3, platinum: 1, diamond: 1 })
  })

  it("averages the middle pair of an even count", () => {
    const figures = snapshotFigures(reps([[401, "silver"], [500, "silver"], [603, "gold"], [800, "platinum"]]))
    expect(figures?.median_score).toBe(552)
    expect(figures?.median_percentile).toBe(50)
  })

  it("counts ties at the median as half", () => {
    const figures = snapshotFigures(reps([[500, "silver"], [500, "silver"], [500, "silver"], [900, "diamond"]]))
    expect(figures?.median_score).toBe(500)
    // One and a half of four reps (three equal, counted as half) is 37.5%, rounded to 38.
    expect(figures?.median_percentile).toBe(38)
    expect(snapshotFigures(reps([[0, "bronze"]]))?.median_percentile).toBe(50)
  })

  it("lists every tier's band in order", () => {
    const figures = snapshotFigures(reps([[720, "platinum"], [730, "platinum"]]))
    expect(figures?.bands).toStrictEqual([
      { tier: "bronze", score_min: 0, score_max: 399, population: 0, p25_ote_usd: 62_000, median_ote_usd: 74_000, p75_ote_usd: 86_000 },
      { tier: "silver", score_min: 400, score_max: 549, population: 0, p25_ote_usd: 84_000, median_ote_usd: 98_000, p75_ote_usd: 112_000 },
      { tier: "gold", score_min: 550, score_max: 699, population: 0, p25_ote_usd: 118_000, median_ote_usd: 134_000, p75_ote_usd: 152_000 },
      { tier: "platinum", score_min: 700, score_max: 849, population: 2, p25_ote_usd: 148_000, median_ote_usd: 168_000, p75_ote_usd: 192_000 },
      { tier: "diamond", score_min: 850, score_max: 1000, population: 0, p25_ote_usd: 185_000, median_ote_usd: 215_000, p75_ote_usd: 250_000 }
    ])
  })

  it("tier ranges cover 0 to 1000 without gaps", () => {
    const ranges = Object.values(tierScoreRanges)
    expect(ranges[0]!.min).toBe(0)
    expect(ranges.at(-1)!.max).toBe(1000)
    for (let index = 1; index < ranges.length; index++) {
      expect(ranges[index]!.min, `range ${index}`).toBe(ranges[index - 1]!.max + 1)
    }
  })

  it("has no figures for no reps", () => {
    expect(snapshotFigures([])).toBeUndefined()
  })
})
