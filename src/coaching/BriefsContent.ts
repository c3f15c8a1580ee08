/**
 * The text of a weekly coaching brief, built from the rep's scorecards of the
 * week. Pure functions: the same scorecards always give the same brief.
 */

/** One scorecard of the week, with the title of its scenario. */
export interface WeekScorecard {
  readonly overall_score: number
  readonly verdict: "pass" | "fail"
  readonly category_scores: Readonly<Record<string, number>>
  readonly best_line: string
  readonly worst_line: string
  readonly next_drill: string
  readonly scenario_title: string
  readonly created_at: Date
}

/** A brief's text: one summary sentence and exactly three bullets of each kind. */
export interface BriefContent {
  readonly summary: string
  readonly celebrate: ReadonlyArray<string>
  readonly coach: ReadonlyArray<string>
}

/** Bullets of each kind in every brief. */
export const bulletsPerList = 3

/** Category average, out of 10, at or above which a category is praised rather than coached. */
const strongCategory = 7

/** Quoted lines longer than this, in characters, are cut and end with an ellipsis. */
const maxQuoteLength = 160

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`

/** `objection_handling` becomes `objection handling`. */
const categoryLabel = (category: string) => category.replace(/_/g, " ")

/** One decimal at most: 8, 7.5. */
const oneDecimal = (value: number) => String(Math.round(value * 10) / 10)

const quote = (line: string) => {
  const text = line.trim().replace(/\s+/g, " ")
  return `"${text.length > maxQuoteLength ? `${text.slice(0, maxQuoteLength - 1)}…` : text}"`
}

const isBlank = (text: string) => text.trim() === ""

/** Average score of each category over the scorecards that rate it, highest first, ties by name. */
const categoryAverages = (scorecards: ReadonlyArray<WeekScorecard>) => {
  const totals = new Map<string, { sum: number; count: number }>()
  for (const scorecard of scorecards) {
    for (const [category, score] of Object.entries(scorecard.category_scores)) {
      const total = totals.get(category) ?? { sum: 0, count: 0 }
      totals.set(category, { sum: total.sum + score, count: total.count + 1 })
    }
  }
  return [...totals]
    .map(([category, total]) => ({ category, average: total.sum / total.count }))
    .sort((a, b) => b.average - a.average || a.category.localeCompare(b.category))
}

/** Picks the first `bulletsPerList` distinct, non-blank candidates, topped up from `fillers` in order. */
const pickThree = (candidates: ReadonlyArray<string | undefined>, fillers: ReadonlyArray<string>) => {
  const picked: Array<string> = []
  for (const candidate of [...candidates, ...fillers]) {
    if (picked.length === bulletsPerList) break
    if (candidate !== undefined && !isBlank(candidate) && !picked.includes(candidate)) picked.push(candidate)
  }
  return picked
}

const summaryOf = (scorecards: ReadonlyArray<WeekScorecard>, passes: number) => {
  const average = Math.round(scorecards.reduce((sum, card) => sum + card.overall_score, 0) / scorecards.length)
  const passRate = passes / scorecards.length
  let tone = "Steady week"
  if (passes === 0) tone = "Tough week"
  else if (passRate >= 0.75 && average >= 80) tone = "Strong week"
  return `${tone}: ${plural(scorecards.length, "practice session")}, ${passes} passed, average score ${average}.`
}

/**
 * Builds the brief of a week from its scorecards, which must not be empty.
 * Celebrate bullets name the best passed session, categories averaging 7 or
 * more, and the best line. Coach bullets name categories under 7, the next
 * drill and worst line of the lowest-scored session, and failed scenarios.
 * Fixed, generic bullets fill each list up to three when the week has too
 * little to say.
 */
export const buildBrief = (scorecards: ReadonlyArray<WeekScorecard>): BriefContent => {
  const byScore = [...scorecards].sort((a, b) =>
    b.overall_score - a.overall_score || a.created_at.getTime() - b.created_at.getTime()
  )
  const best = byScore[0]!
  const worst = byScore[byScore.length - 1]!
  const passed = byScore.filter((card) => card.verdict === "pass")
  const failed = byScore.filter((card) => card.verdict === "fail").reverse()
  const averages = categoryAverages(scorecards)
  const strong = averages.filter((entry) => entry.average >= strongCategory)
  const weak = averages.filter((entry) => entry.average < strongCategory).reverse()

  const passedBullet = (card: WeekScorecard | undefined) =>
    card === undefined ? undefined : `Passed ${card.scenario_title} with a score of ${card.overall_score}`
  const strongBullet = (entry: { category: string; average: number } | undefined) =>
    entry === undefined ? undefined : `Strong ${categoryLabel(entry.category)}: ${oneDecimal(entry.average)} out of 10`
  const weakBullet = (entry: { category: string; average: number } | undefined) =>
    entry === undefined ? undefined : `Work on ${categoryLabel(entry.category)}: ${oneDecimal(entry.average)} out of 10`

  const celebrate = pickThree(
    [
      passedBullet(passed[0]),
      strongBullet(strong[0]),
      isBlank(best.best_line) ? undefined : `Best line: ${quote(best.best_line)}`,
      strongBullet(strong[1]),
      passedBullet(passed.find((card) => card.scenario_title !== passed[0]?.scenario_title))
    ],
    [
      `Completed ${plural(scorecards.length, "practice session")} this week`,
      `Highest score of the week: ${best.overall_score}`,
      "Kept practising: every session sharpens the next real call"
    ]
  )

  const coach = pickThree(
    [
      weakBullet(weak[0]),
      isBlank(worst.next_drill) ? undefined : `Next drill: ${worst.next_drill.trim()}`,
      isBlank(worst.worst_line) ? undefined : `Rework this line: ${quote(worst.worst_line)}`,
      failed[0] === undefined ? undefined : `Retry ${failed[0].scenario_title} until it passes`,
      weakBullet(weak[1])
    ],
    [
      scorecards.length < 3 ? "Aim for at least three practice sessions next week" : undefined,
      "Try a harder scenario next week to stretch your range",
      "Pick one category and focus every session on it",
      "Replay your lowest-scored session and change one answer"
    ].filter((filler): filler is string => filler !== undefined)
  )

  return { summary: summaryOf(scorecards, passed.length), celebrate, coach }
}

/** The mail that carries a brief: subject and plain-text body. */
export const briefEmail = (
  recipientName: string,
  week: { readonly weekStart: string; readonly weekEnd: string },
  content: BriefContent
) => ({
  subject: `Your coaching brief for ${week.weekStart} to ${week.weekEnd}`,
  text: [
    `Hi ${recipientName},`,
    "",
    content.summary,
    "",
    "Celebrate:",
    ...content.celebrate.map((bullet) => `- ${bullet}`),
    "",
    "Coach:",
    ...content.coach.map((bullet) => `- ${bullet}`),
    "",
    "Sales Lab",
    ""
  ].join("\n")
})
