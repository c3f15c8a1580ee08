import { describe, expect, it } from "@effect/vitest"
import { briefEmail, buildBrief, type WeekScorecard } from "../../src/coaching/BriefsContent.ts"

const card = (overrides: Partial<WeekScorecard>): WeekScorecard => ({
  overall_score: 70,
  verdict: "pass",
  category_scores: {},
  best_line: "",
  worst_line: "",
  next_drill: "",
  scenario_title: "Untitled scenario",
  created_at: new Date("2026-05-12T15:00:00.000Z"),
  ...overrides
})

/** Three sessions: two passed, one category strong, one weak. */
const steadyWeek: ReadonlyArray<WeekScorecard> = [
  card({
    overall_score: 91,
    verdict: "pass",
    category_scores: { discovery: 9, objection_handling: 8, closing: 9 },
    best_line: "What would it cost you to wait another quarter?",
    worst_line: "We can probably do something on price.",
    next_drill: "holding price under pressure",
    scenario_title: "Renewal with a skeptical CFO",
    created_at: new Date("2026-05-11T15:00:00.000Z")
  }),
  card({
    overall_score: 64,
    verdict: "fail",
    category_scores: { discovery: 6, objection_handling: 5, closing: 7 },
    best_line: "Can I ask how you handle this today?",
    worst_line: "Sorry to bother you.",
    next_drill: "opening without apologising",
    scenario_title: "Cold call to a VP of operations",
    created_at: new Date("2026-05-12T15:00:00.000Z")
  }),
  card({
    overall_score: 78,
    verdict: "pass",
    category_scores: { discovery: 8, objection_handling: 6, closing: 6 },
    best_line: "Who else signs off on this?",
    worst_line: "Our product does everything.",
    next_drill: "tying features to pain",
    scenario_title: "Discovery with an IT director",
    created_at: new Date("2026-05-14T15:00:00.000Z")
  })
]

describe("buildBrief", () => {
  it("steady week names best and weakest", () => {
    const brief = buildBrief(steadyWeek)

    expect(brief.summary).toBe("Steady week: 3 practice sessions, 2 passed, average score 78.")
    expect(brief.celebrate).toEqual([
      "Passed Renewal with a skeptical CFO with a score of 91",
      "Strong discovery: 7.7 out of 10",
      "Best line: \"What would it cost you to wait another quarter?\""
    ])
    expect(brief.coach).toEqual([
      "Work on objection handling: 6.3 out of 10",
      "Next drill: opening without apologising",
      "Rework this line: \"Sorry to bother you.\""
    ])
  })

  it("order of scorecards does not matter", () => {
    expect(buildBrief([...steadyWeek].reverse())).toEqual(buildBrief(steadyWeek))
  })

  it("thin week is filled to three", () => {
    const brief = buildBrief([card({ overall_score: 40, verdict: "fail", scenario_title: "Price negotiation" })])

    expect(brief.summary).toBe("Tough week: 1 practice session, 0 passed, average score 40.")
    expect(brief.celebrate).toEqual([
      "Completed 1 practice session this week",
      "Highest score of the week: 40",
      "Kept practising: every session sharpens the next real call"
    ])
    expect(brief.coach).toEqual([
      "Retry Price negotiation until it passes",
      "Aim for at least three practice sessions next week",
      "Try a harder scenario next week to stretch your range"
    ])
  })

  it("strong week coaches without categories", () => {
    const brief = buildBrief([
      card({
        overall_score: 95,
        category_scores: { discovery: 10, closing: 9 },
        best_line: "Let's put a date on the pilot.",
        worst_line: "Um, so, yeah.",
        next_drill: "multi-threading the deal",
        scenario_title: "Pilot close"
      })
    ])

    expect(brief.summary).toBe("Strong week: 1 practice session, 1 passed, average score 95.")
    expect(brief.celebrate).toEqual([
      "Passed Pilot close with a score of 95",
      "Strong discovery: 10 out of 10",
      "Best line: \"Let's put a date on the pilot.\""
    ])
    expect(brief.coach).toEqual([
      "Next drill: multi-threading the deal",
      "Rework this line: \"Um, so, yeah.\"",
      "Aim for at least three practice sessions next week"
    ])
  })

  it("weak categories are never celebrated", () => {
    const brief = buildBrief([
      card({ overall_score: 30, verdict: "fail", category_scores: { discovery: 3, closing: 2 }, scenario_title: "Demo" }),
      card({ overall_score: 35, verdict: "fail", category_scores: { discovery: 4, closing: 3 }, scenario_title: "Demo" })
    ])

    expect(brief.celebrate.some((bullet) => bullet.startsWith("Strong"))).toBe(false)
    expect(brief.coach.slice(0, 1)).toEqual(["Work on closing: 2.5 out of 10"])
    expect(brief.coach).toContain("Retry Demo until it passes")
  })

  it("long lines are cut to 160 characters", () => {
    const longLine = "word ".repeat(60).trim()
    const brief = buildBrief([card({ best_line: longLine, worst_line: longLine, verdict: "fail", overall_score: 10 })])
    const quoted = brief.celebrate.find((bullet) => bullet.startsWith("Best line: "))!

    expect(quoted.length).toBe("Best line: ".length + 160 + 2)
    expect(quoted.endsWith("…\"")).toBe(true)
  })

  it("every brief has three distinct bullets each", () => {
    const cases: ReadonlyArray<ReadonlyArray<WeekScorecard>> = [
      steadyWeek,
      steadyWeek.slice(0, 1),
      steadyWeek.slice(1, 2),
      [card({}), card({}), card({}), card({})],
      [card({ verdict: "fail", overall_score: 0, category_scores: { discovery: 0 } })],
      [card({ category_scores: { discovery: 7 } }), card({ category_scores: { discovery: 7 } })]
    ]
    for (const scorecards of cases) {
      const brief = buildBrief(scorecards)
      expect(brief.celebrate).toHaveLength(3)
      expect(brief.coach).toHaveLength(3)
      expect(new Set(brief.celebrate).size).toBe(3)
      expect(new Set(brief.coach).size).toBe(3)
      expect([...brief.celebrate, ...brief.coach].every((bullet) => bullet.trim() !== "")).toBe(true)
    }
  })
})

describe("briefEmail", () => {
  it("lists summary and both bullet lists", () => {
    const mail = briefEmail("Riley Rep", { weekStart: "2026-05-11", weekEnd: "2026-05-17" }, {
      summary: "Steady week.",
      celebrate: ["One", "Two", "Three"],
      coach: ["Four", "Five", "Six"]
    })

    expect(mail.subject).toBe("Your coaching brief for 2026-05-11 to 2026-05-17")
    expect(mail.text).toBe(
      "Hi Riley Rep,\n\nSteady week.\n\nCelebrate:\n- One\n- Two\n- Three\n\nCoach:\n- Four\n- Five\n- Six\n\nSales Lab\n"
    )
  })
})
