import { describe, expect, it } from "@effect/vitest"
import { percentiles, salesLabScore, tierDirection, tierOf, tierThresholds } from "../../src/scores/SalesLabScore.ts"

describe("Sales Lab Score", () => {
  it("tiers change at the thresholds", () => {
    const cases: ReadonlyArray<[number, string]> = [
      [0, "bronze"],
      [399, "bronze"],
      [400, "silver"],
      [549, "silver"],
      [550, "gold"],
      [699, "gold"],
      [700, "platinum"],
      [849, "platinum"],
      [850, "diamond"],
      [1000, "diamond"]
    ]
    for (const [score, tier] of cases) expect(tierOf(score), `score ${score}`).toBe(tier)
    expect(tierThresholds).toEqual({ silver: 400, gold: 550, platinum: 700, diamond: 850 })
  })

  it("no scorecards score zero", () => {
    expect(salesLabScore([])).toBe(0)
  })

  it("quality and volume add up", () => {
    expect(salesLabScore([{ band: 0, scorecards: 1, overallScoreSum: 100 }])).toBe(910)
    expect(salesLabScore([{ band: 0, scorecards: 3, overallScoreSum: 270 }])).toBe(840)
    expect(salesLabScore([{ band: 0, scorecards: 10, overallScoreSum: 1000 }])).toBe(1000)
  })

  it("volume bonus stops at ten scorecards", () => {
    expect(salesLabScore([{ band: 0, scorecards: 20, overallScoreSum: 1000 }])).toBe(550)
    expect(salesLabScore([{ band: 0, scorecards: 10, overallScoreSum: 500 }])).toBe(550)
  })

  it("newer scorecards weigh more", () => {
    // Weights 3, 2 and 1: (3 × 100 + 2 × 40 + 1 × 70) / 6 = 75, so 9 × 75 + 3 × 10 = 705.
    const bands = [
      { band: 0, scorecards: 1, overallScoreSum: 100 },
      { band: 1, scorecards: 1, overallScoreSum: 40 },
      { band: 2, scorecards: 1, overallScoreSum: 70 }
    ]
    expect(salesLabScore(bands)).toBe(705)
    expect(() => salesLabScore([{ band: 3, scorecards: 1, overallScoreSum: 50 }])).toThrow(RangeError)
  })

  it("percentile ranks against the others", () => {
    expect(percentiles([640])).toEqual([100])
    expect(percentiles([840, 190, 955, 460])).toEqual([67, 0, 100, 33])
    expect(percentiles([500, 500, 700])).toEqual([0, 0, 100])
  })

  it("direction follows tier order", () => {
    expect(tierDirection("silver", "gold")).toBe("up")
    expect(tierDirection("diamond", "bronze")).toBe("down")
    expect(tierDirection("gold", "gold")).toBeUndefined()
  })
})
