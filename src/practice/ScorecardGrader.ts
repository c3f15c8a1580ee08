import { Context, Effect, Layer } from "effect"
import type { Verdict } from "../events/Catalog.ts"
import type { DataCollectionResult, EvaluationCriterionResult, PostCallAnalysis, TranscriptTurn } from "./PostCallPayload.ts"

/** Input of a grader: the agent's analysis, the transcript and the scenario's pass mark (0 to 100). */
export interface GradingInput {
  readonly analysis: PostCallAnalysis
  readonly transcript: ReadonlyArray<TranscriptTurn>
  readonly passMark: number
}

/** A graded practice call: the fields of a scorecard that depend on the call. */
export interface Grade {
  /** 0 to 100. */
  readonly overallScore: number
  readonly verdict: Verdict
  readonly headline: string
  /** 0 to 10 per category, such as `discovery`. */
  readonly categoryScores: Readonly<Record<string, number>>
  readonly bestLine: string
  readonly worstLine: string
  readonly nextDrill: string
}

/**
 * Port that turns a finished call into a scorecard. The default `layer`
 * maps the agent's own analysis; a grader backed by a language model can
 * replace it behind the same tag.
 */
export class ScorecardGrader extends Context.Tag("saleslab/ScorecardGrader")<ScorecardGrader, {
  readonly grade: (input: GradingInput) => Effect.Effect<Grade>
}>() {
  /** Grades from the agent's analysis with `gradeFromAnalysis`. */
  static readonly layer = Layer.succeed(ScorecardGrader, {
    grade: (input) => Effect.sync(() => gradeFromAnalysis(input))
  })
}

/** Rubric categories every scorecard tries to fill, in the order they are listed. */
export const standardCategories = ["discovery", "objection_handling", "control", "rapport", "closing"] as const

/** Score of an evaluation criterion on the 0 to 10 category scale. */
const criterionScores: Readonly<Record<string, number>> = { success: 10, failure: 0, unknown: 5 }

const clampRound = (value: number, max: number) => Math.round(Math.min(max, Math.max(0, value)))

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length

/** Reads a number from an item value: a number, or a string that starts with one ("8", "8/10", "80%"). */
const numberOf = (item: DataCollectionResult | undefined): number | undefined => {
  const value = item?.value
  let parsed = Number.NaN
  if (typeof value === "number") parsed = value
  if (typeof value === "string") parsed = Number.parseFloat(value)
  return Number.isFinite(parsed) ? parsed : undefined
}

/** Reads non-blank text from an item value. A number is written out as text. */
const textOf = (item: DataCollectionResult | undefined): string | undefined => {
  const value = item?.value
  let text = ""
  if (typeof value === "string") text = value.trim()
  if (typeof value === "number") text = String(value)
  return text === "" ? undefined : text
}

/** Reduces a loosely written criterion id ("Objection Handling", "score_discovery") to a category name. */
const categoryNameOf = (criterionId: string) =>
  criterionId.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^score_/, "")

const humanize = (category: string) => category.replace(/_/g, " ")

const firstSentence = (text: string): string | undefined => {
  const trimmed = text.trim()
  if (trimmed === "") return undefined
  const sentence = trimmed.split(/(?<=[.!?])\s+/)[0] ?? trimmed
  if (sentence.length <= 200) return sentence
  const cut = sentence.slice(0, 200)
  return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), 1))}…`
}

const criteriaByCategory = (criteria: PostCallAnalysis["evaluation_criteria_results"]) => {
  const scores = new Map<string, number>()
  for (const [key, criterion] of Object.entries(criteria)) {
    const score = criterionScores[criterion.result.toLowerCase()]
    if (score !== undefined) scores.set(categoryNameOf(criterion.criteria_id ?? key), score)
  }
  return scores
}

/**
 * Category scores from `score_<category>` items, then from the evaluation
 * criterion named after a standard category for those still missing.
 * A category with neither is left out rather than guessed.
 */
const gradeCategories = (analysis: PostCallAnalysis): Record<string, number> => {
  const fromItems = new Map<string, number>()
  for (const [key, item] of Object.entries(analysis.data_collection_results)) {
    const score = numberOf(item)
    const category = categoryNameOf(key)
    if (key.startsWith("score_") && category !== "" && score !== undefined) fromItems.set(category, clampRound(score, 10))
  }
  const fromCriteria = criteriaByCategory(analysis.evaluation_criteria_results)

  const scores: Record<string, number> = {}
  for (const category of standardCategories) {
    const score = fromItems.get(category) ?? fromCriteria.get(category)
    if (score !== undefined) scores[category] = score
  }
  for (const category of [...fromItems.keys()].sort()) {
    if (!(category in scores)) scores[category] = fromItems.get(category)!
  }
  return scores
}

/**
 * The `overall_score` item, else the mean category score times ten, else the
 * mean of all evaluation criteria times ten, else 0.
 */
const gradeOverall = (analysis: PostCallAnalysis, categories: Record<string, number>): number => {
  const item = numberOf(analysis.data_collection_results.overall_score)
  if (item !== undefined) return clampRound(item, 100)
  const categoryValues = Object.values(categories)
  if (categoryValues.length > 0) return clampRound(mean(categoryValues) * 10, 100)
  const criterionValues = Object.values(analysis.evaluation_criteria_results)
    .map((criterion) => criterionScores[criterion.result.toLowerCase()])
    .filter((score) => score !== undefined)
  return criterionValues.length > 0 ? clampRound(mean(criterionValues) * 10, 100) : 0
}

const rankedCategories = (categories: Record<string, number>) =>
  Object.entries(categories).sort(([, a], [, b]) => b - a)

const fallbackHeadline = (analysis: PostCallAnalysis, categories: Record<string, number>, overall: number) => {
  const summary = firstSentence(analysis.transcript_summary ?? "")
  if (summary !== undefined) return summary
  const ranked = rankedCategories(categories)
  const strongest = ranked[0]
  const weakest = ranked.at(-1)
  if (ranked.length >= 2 && strongest !== undefined && weakest !== undefined && strongest[1] > weakest[1]) {
    return `Strongest at ${humanize(strongest[0])}, weakest at ${humanize(weakest[0])}.`
  }
  return `Overall score ${overall} of 100.`
}

const failedCriterion = (criteria: Record<string, EvaluationCriterionResult>) =>
  Object.entries(criteria).find(([, criterion]) => criterion.result.toLowerCase() === "failure")

const fallbackNextDrill = (analysis: PostCallAnalysis, categories: Record<string, number>) => {
  const weakest = rankedCategories(categories).at(-1)
  if (weakest !== undefined) return humanize(weakest[0])
  const failed = failedCriterion(analysis.evaluation_criteria_results)
  if (failed !== undefined) return humanize(categoryNameOf(failed[1].criteria_id ?? failed[0]))
  return "repeat this scenario"
}

/**
 * The rep's own lines, trimmed, blank ones dropped. ElevenLabs labels the
 * human caller `user`, and in a practice call that is the rep.
 */
const repLines = (transcript: ReadonlyArray<TranscriptTurn>) =>
  transcript
    .filter((turn) => turn.role === "user")
    .map((turn) => (turn.message ?? "").trim())
    .filter((line) => line !== "")

/**
 * Best and worst line when the analysis names none: the longest of the rep's
 * lines and the shortest other one. NOTE: length is a rough proxy for quality.
 * It keeps the scorecard complete until the agent's analysis picks the lines.
 */
const fallbackLines = (transcript: ReadonlyArray<TranscriptTurn>) => {
  const lines = repLines(transcript)
  const byLength = [...lines].sort((a, b) => b.length - a.length)
  const best = byLength[0] ?? ""
  const worst = byLength.length > 1 ? byLength.at(-1)! : best
  return { best, worst }
}

/**
 * Maps the agent's analysis of a call to a scorecard. Each field comes from
 * its data-collection item when present (`overall_score` 0 to 100,
 * `score_<category>` 0 to 10, `headline`, `best_line`, `worst_line`,
 * `next_drill`), else from the evaluation criteria (success 10, failure 0,
 * unknown 5), the transcript summary or the rep's turns. Scores outside their
 * range are clamped, and all scores are rounded to integers. The verdict is
 * `pass` at or above `passMark`.
 */
export const gradeFromAnalysis = (input: GradingInput): Grade => {
  const { analysis } = input
  const items = analysis.data_collection_results

  const categoryScores = gradeCategories(analysis)
  const overallScore = gradeOverall(analysis, categoryScores)
  const lines = fallbackLines(input.transcript)

  return {
    overallScore,
    verdict: overallScore >= input.passMark ? "pass" : "fail",
    headline: textOf(items.headline) ?? fallbackHeadline(analysis, categoryScores, overallScore),
    categoryScores,
    bestLine: textOf(items.best_line) ?? lines.best,
    worstLine: textOf(items.worst_line) ?? lines.worst,
    nextDrill: textOf(items.next_drill) ?? fallbackNextDrill(analysis, categoryScores)
  }
}
