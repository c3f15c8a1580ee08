import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import type { PostCallAnalysis, TranscriptTurn } from "../../src/practice/PostCallPayload.ts"
import { gradeFromAnalysis, ScorecardGrader } from "../../src/practice/ScorecardGrader.ts"

const item = (value: unknown) => ({ value, rationale: "from the agent" })
const criterion = (result: string, criteriaId?: string) =>
  criteriaId === undefined ? { result, rationale: "judged" } : { criteria_id: criteriaId, result, rationale: "judged" }

const analysis = (overrides: Partial<PostCallAnalysis> = {}): PostCallAnalysis => ({
  data_collection_results: {},
  evaluation_criteria_results: {},
  ...overrides
})

const transcript: ReadonlyArray<TranscriptTurn> = [
  { role: "agent", message: "You have five minutes." },
  { role: "user", message: "What made you take this call today?" },
  { role: "agent", message: "Our renewals are slipping." },
  { role: "user", message: "  Okay.  " },
  { role: "user", message: "" },
  { role: "user" },
  { role: "user", message: "How many renewals slipped last quarter, and what did each one cost you?" }
]

const fullItems = {
  overall_score: item(84),
  score_discovery: item(9),
  score_objection_handling: item(7),
  score_control: item(8),
  score_rapport: item(8),
  score_closing: item(6),
  headline: item("Sharp discovery, soft close."),
  best_line: item("What made you take this call today?"),
  worst_line: item("Okay."),
  next_drill: item("asking for the next meeting")
}

describe("gradeFromAnalysis", () => {
  it("maps every data collection item", () => {
    const grade = gradeFromAnalysis({ analysis: analysis({ data_collection_results: fullItems }), transcript, passMark: 70 })

    expect(grade.overallScore).toBe(84)
    expect(grade.verdict).toBe("pass")
    expect(grade.headline).toBe("Sharp discovery, soft close.")
    expect(grade.categoryScores).toEqual({
      discovery: 9,
      objection_handling: 7,
      control: 8,
      rapport: 8,
      closing: 6
    })
    expect(grade.bestLine).toBe("What made you take this call today?")
    expect(grade.worstLine).toBe("Okay.")
    expect(grade.nextDrill).toBe("asking for the next meeting")
  })

  it("lists standard categories first, then extra ones alphabetically", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        data_collection_results: { score_pricing: item(4), score_closing: item(6), score_agenda: item(5), score_discovery: item(8) }
      }),
      transcript,
      passMark: 70
    })
    expect(Object.keys(grade.categoryScores)).toEqual(["discovery", "closing", "agenda", "pricing"])
  })

  it("reads numbers written as text", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        data_collection_results: { overall_score: item("72"), score_discovery: item("8/10"), score_control: item("n/a") }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.overallScore).toBe(72)
    expect(grade.categoryScores.discovery).toBe(8)
    expect(grade.categoryScores).not.toHaveProperty("control")
  })

  it("clamps and rounds scores out of range", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        data_collection_results: {
          overall_score: item(140),
          score_discovery: item(12),
          score_control: item(-3),
          score_rapport: item(6.5),
          score_closing: item(6.49)
        }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.overallScore).toBe(100)
    expect(grade.categoryScores).toEqual({ discovery: 10, control: 0, rapport: 7, closing: 6 })

    const low = gradeFromAnalysis({
      analysis: analysis({ data_collection_results: { overall_score: item(-20) } }),
      transcript,
      passMark: 0
    })
    expect(low.overallScore).toBe(0)
    expect(low.verdict).toBe("pass")
  })

  it("verdict passes exactly at the pass mark", () => {
    const gradeAt = (overall: number, passMark: number) =>
      gradeFromAnalysis({
        analysis: analysis({ data_collection_results: { overall_score: item(overall) } }),
        transcript,
        passMark
      }).verdict

    expect(gradeAt(70, 70)).toBe("pass")
    expect(gradeAt(69, 70)).toBe("fail")
    expect(gradeAt(69.5, 70)).toBe("pass")
    expect(gradeAt(100, 100)).toBe("pass")
    expect(gradeAt(99, 100)).toBe("fail")
  })

  it("falls back to evaluation criteria for missing categories", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        data_collection_results: { score_discovery: item(9) },
        evaluation_criteria_results: {
          discovery: criterion("failure", "discovery"),
          objection: criterion("success", "Objection Handling"),
          closing: criterion("failure"),
          control: criterion("unknown", "score_control"),
          budget_question: criterion("success", "asked_about_budget"),
          rapport: criterion("not-judged", "rapport")
        }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.categoryScores).toEqual({ discovery: 9, objection_handling: 10, control: 5, closing: 0 })
    expect(grade.categoryScores).not.toHaveProperty("asked_about_budget")
    expect(grade.overallScore).toBe(60)
    expect(grade.verdict).toBe("fail")
  })

  it("derives the overall score from criteria when nothing else exists", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        evaluation_criteria_results: {
          asked_about_budget: criterion("success"),
          booked_meeting: criterion("failure"),
          named_competitor: criterion("success")
        }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.categoryScores).toEqual({})
    expect(grade.overallScore).toBe(67)
    expect(grade.nextDrill).toBe("booked meeting")
  })

  it("scores zero without any analysis", () => {
    const grade = gradeFromAnalysis({ analysis: analysis(), transcript: [], passMark: 70 })
    expect(grade.overallScore).toBe(0)
    expect(grade.verdict).toBe("fail")
    expect(grade.headline).toBe("Overall score 0 of 100.")
    expect(grade.bestLine).toBe("")
    expect(grade.worstLine).toBe("")
    expect(grade.nextDrill).toBe("repeat this scenario")
  })

  it("takes the headline from the transcript summary", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        transcript_summary: "The rep found the renewal pain early. The close was rushed.",
        data_collection_results: { headline: item("   ") }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.headline).toBe("The rep found the renewal pain early.")
  })

  it("shortens a long summary sentence at a word", () => {
    const summary = `${"The rep kept asking about the renewal process ".repeat(8)}and never stopped.`
    const grade = gradeFromAnalysis({ analysis: analysis({ transcript_summary: summary }), transcript, passMark: 70 })
    expect(grade.headline.length).toBeLessThanOrEqual(201)
    expect(grade.headline.endsWith("…")).toBe(true)
    expect(summary.startsWith(grade.headline.slice(0, -1))).toBe(true)
  })

  it("names strongest and weakest category without a summary", () => {
    const grade = gradeFromAnalysis({
      analysis: analysis({
        data_collection_results: { score_discovery: item(9), score_objection_handling: item(3), score_closing: item(6) }
      }),
      transcript,
      passMark: 70
    })
    expect(grade.headline).toBe("Strongest at discovery, weakest at objection handling.")
    expect(grade.nextDrill).toBe("objection handling")
    expect(grade.overallScore).toBe(60)
  })

  it("picks best and worst lines from the rep's turns", () => {
    const grade = gradeFromAnalysis({ analysis: analysis(), transcript, passMark: 70 })
    expect(grade.bestLine).toBe("How many renewals slipped last quarter, and what did each one cost you?")
    expect(grade.worstLine).toBe("Okay.")

    const single = gradeFromAnalysis({
      analysis: analysis(),
      transcript: [{ role: "agent", message: "Hello." }, { role: "user", message: "Hi, thanks for the time." }],
      passMark: 70
    })
    expect(single.bestLine).toBe("Hi, thanks for the time.")
    expect(single.worstLine).toBe("Hi, thanks for the time.")
  })

  it("grades the sample post-call payload", () => {
    const fixture = JSON.parse(
      readFileSync(new URL("../fixtures/elevenlabs-post-call.json", import.meta.url), "utf8")
    ) as { data: { analysis: PostCallAnalysis; transcript: ReadonlyArray<TranscriptTurn> } }
    const grade = gradeFromAnalysis({ analysis: fixture.data.analysis, transcript: fixture.data.transcript, passMark: 80 })
    expect(grade.overallScore).toBe(78)
    expect(grade.verdict).toBe("fail")
    expect(grade.categoryScores).toEqual({ discovery: 9, objection_handling: 6, control: 8, rapport: 7, closing: 9 })
    expect(grade.nextDrill).toBe("objection handling under price pressure")
  })

  it.effect("default layer grades with the analysis mapping", () =>
    Effect.gen(function*() {
      const grader = yield* ScorecardGrader
      const grade = yield* grader.grade({
        analysis: analysis({ data_collection_results: fullItems }),
        transcript,
        passMark: 90
      })
      expect(grade.overallScore).toBe(84)
      expect(grade.verdict).toBe("fail")
    }).pipe(Effect.provide(ScorecardGrader.layer)))
})
