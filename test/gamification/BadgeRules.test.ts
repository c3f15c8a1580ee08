import { describe, expect, it } from "@effect/vitest"
import { type BadgeFacts, badgeRule, badgeRules, earnedBadges } from "../../src/gamification/BadgeRules.ts"

const ordinary: BadgeFacts = { overallScore: 60, verdict: "fail", completedSessions: 3, streakDays: 2 }

describe("BadgeRules", () => {
  it("ordinary failing session earns nothing", () => {
    expect(earnedBadges(ordinary)).toEqual([])
  })

  it("each rule at its threshold", () => {
    const cases: ReadonlyArray<[Partial<BadgeFacts>, ReadonlyArray<string>]> = [
      [{ verdict: "pass" }, ["first_pass"]],
      [{ overallScore: 89 }, []],
      [{ overallScore: 90 }, ["ninety_score"]],
      [{ overallScore: 100 }, ["ninety_score", "perfect_score"]],
      [{ completedSessions: 9 }, []],
      [{ completedSessions: 10 }, ["ten_sessions"]],
      [{ completedSessions: 50 }, ["ten_sessions", "fifty_sessions"]],
      [{ streakDays: 6 }, []],
      [{ streakDays: 7 }, ["streak_7"]],
      [{ streakDays: 30 }, ["streak_7", "streak_30"]]
    ]
    for (const [change, expected] of cases) {
      expect(earnedBadges({ ...ordinary, ...change }), JSON.stringify(change)).toEqual(expected)
    }
  })

  it("one scorecard can earn several badges", () => {
    const facts: BadgeFacts = { overallScore: 95, verdict: "pass", completedSessions: 10, streakDays: 7 }
    expect(earnedBadges(facts)).toEqual(["first_pass", "ninety_score", "ten_sessions", "streak_7"])
  })

  it("slugs are unique and named", () => {
    const slugs = badgeRules.map((rule) => rule.slug)
    expect(new Set(slugs).size).toBe(slugs.length)
    for (const slug of slugs) expect(slug).toMatch(/^[a-z0-9_]+$/)
    expect(badgeRule("streak_7")?.title).toBe("Seven-day streak")
    expect(badgeRule("no_such_badge")).toBeUndefined()
  })
})
