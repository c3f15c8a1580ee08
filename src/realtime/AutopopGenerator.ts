import { Context, Effect, Layer } from "effect"
import type { CallTurn } from "../integrations/ScenarioGenerator.ts"

/** Input of an autopop generator: a finished realtime call. */
export interface AutopopInput {
  readonly transcript: ReadonlyArray<CallTurn>
  /** Length of the call in seconds. */
  readonly durationSeconds: number
}

/** The CRM fields generated from a realtime call. */
export interface AutopopDraft {
  /** Three to five sentences. */
  readonly summary: string
  /** One action with its owner and, where the call named one, its timing. */
  readonly nextStep: string
  readonly keyTopics: ReadonlyArray<string>
  /** A follow-up email that starts with `Subject: <subject>` and a blank line. */
  readonly draftFollowupEmail: string
}

/**
 * Port that writes the CRM autopop of a finished realtime call. The default
 * `layer` is deterministic (`draftAutopop`), and a generator backed by a
 * language model can replace it behind the same tag.
 */
export class AutopopGenerator extends Context.Tag("saleslab/AutopopGenerator")<AutopopGenerator, {
  readonly generate: (input: AutopopInput) => Effect.Effect<AutopopDraft>
}>() {
  /** Builds the autopop from keyword matches and fixed templates. */
  static readonly layer = Layer.succeed(AutopopGenerator, {
    generate: (input) => Effect.sync(() => draftAutopop(input))
  })
}

/**
 * Topics recognised in a call, each with the pattern that detects it. The
 * key topics of a call are listed in the order of their first mention.
 */
const topicPatterns: ReadonlyArray<readonly [topic: string, pattern: RegExp]> = [
  ["pricing", /\b(price|prices|pricing|cost|costs|budget|discount|quote|per seat|license fees?)\b/i],
  ["security review", /\b(security|soc ?2|iso ?27001|sso|single sign-on|gdpr|pen(etration)? tests?|infosec)\b/i],
  ["timeline", /\b(timeline|deadline|go[- ]live|launch|roll ?out|q[1-4]|this quarter|next quarter|end of the (month|quarter|year))\b/i],
  ["integration", /\b(integrat\w*|api|salesforce|hubspot|connectors?|webhooks?)\b/i],
  ["procurement", /\b(procurement|purchase orders?|legal review|contracts?|msa|redlines?|vendor onboarding)\b/i],
  ["competition", /\b(competitors?|competition|alternatives?|other vendors?)\b/i],
  ["implementation", /\b(implementation|onboarding|training|migration)\b/i],
  ["decision makers", /\b(decision[- ]makers?|sign[- ]off|cfo|ceo|champion|the board)\b/i]
]

/** Next step of a call in which no speaker committed to an action. */
const defaultNextStep = "Rep: send a recap email within one business day and propose a follow-up meeting."

/** Matches a sentence in which a speaker commits to an action. */
const commitmentPattern =
  /\b(i'll|i will|we'll|we will|let's|let me|i can send|send (you|over)|schedule|set up|follow up|book|loop in|get back to you)\b/i

/** Maximum length of a buyer point quoted in the summary and the email, in characters. */
const quotedPointLength = 160

/** Buyer points quoted in a summary: with the opening and the next-step sentence, a summary has three to five sentences. */
const maxBuyerPoints = 3

/** Buyer sentences shorter than this many words ("Sounds good") are quoted only when there is nothing else. */
const minPointWords = 4

/** An action agreed on the call and who owns it. */
interface NextStep {
  readonly owner: "rep" | "buyer"
  /** The sentence as spoken, ending with punctuation. */
  readonly action: string
}

const sentencesOf = (text: string) =>
  text.replace(/\s+/g, " ").trim().split(/(?<=[.!?])\s+/).filter((sentence) => sentence !== "")

/** Ends `text` with a full stop unless it already ends a sentence. */
const asSentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`)

/** Removes final punctuation and double quotes, and shortens to `quotedPointLength`, so the text can be quoted. */
const quotable = (sentence: string) => {
  const bare = sentence.replace(/[.!?]+$/, "").replace(/"/g, "'")
  return bare.length <= quotedPointLength ? bare : `${bare.slice(0, quotedPointLength - 1)}…`
}

/** Joins items as English prose: "a", "a and b", "a, b and c". */
const joinList = (items: ReadonlyArray<string>) =>
  items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`

/** Key topics of the transcript in the order of their first mention, by turn and then by position in the turn. */
export const keyTopicsOf = (transcript: ReadonlyArray<CallTurn>): ReadonlyArray<string> => {
  const firstMentions: Array<{ readonly topic: string; readonly turn: number; readonly offset: number }> = []
  for (const [topic, pattern] of topicPatterns) {
    const turn = transcript.findIndex((candidate) => pattern.test(candidate.text))
    if (turn >= 0) firstMentions.push({ topic, turn, offset: transcript[turn]!.text.search(pattern) })
  }
  return firstMentions.sort((a, b) => a.turn - b.turn || a.offset - b.offset).map((mention) => mention.topic)
}

/** Finds the last sentence of the last turn in which either speaker commits to an action. */
const lastCommitmentOf = (transcript: ReadonlyArray<CallTurn>): NextStep | undefined => {
  for (let index = transcript.length - 1; index >= 0; index--) {
    const turn = transcript[index]!
    const commitment = sentencesOf(turn.text).reverse().find((sentence) => commitmentPattern.test(sentence))
    if (commitment !== undefined) return { owner: turn.speaker, action: asSentence(commitment) }
  }
  return undefined
}

/** The next step as stored: its owner, then the action, such as "Rep: I'll send the questionnaire by Friday." */
const formatNextStep = (step: NextStep | undefined) =>
  step === undefined ? defaultNextStep : `${step.owner === "rep" ? "Rep" : "Buyer"}: ${step.action}`

/** The next step of the call: the last commitment either speaker made, or a recap email from the rep. */
export const nextStepOf = (transcript: ReadonlyArray<CallTurn>): string => formatNextStep(lastCommitmentOf(transcript))

/**
 * Chooses up to three buyer sentences to quote: those that mention the most
 * topics, then the longest, returned in the order they were spoken.
 */
export const buyerPointsOf = (transcript: ReadonlyArray<CallTurn>): ReadonlyArray<string> => {
  const sentences = transcript.flatMap((turn) => (turn.speaker === "buyer" ? sentencesOf(turn.text) : []))
  const substantial = sentences.filter((sentence) => sentence.split(" ").length >= minPointWords)
  const candidates = (substantial.length > 0 ? substantial : sentences).map((sentence, position) => ({
    position,
    point: quotable(sentence),
    topicCount: topicPatterns.filter(([, pattern]) => pattern.test(sentence)).length
  }))
  const chosen = candidates
    .filter((candidate) => candidate.point !== "")
    .sort((a, b) => b.topicCount - a.topicCount || b.point.length - a.point.length || a.position - b.position)
    .slice(0, maxBuyerPoints)
  return chosen.sort((a, b) => a.position - b.position).map((candidate) => candidate.point)
}

const durationText = (durationSeconds: number) =>
  durationSeconds < 60 ? "A call of under a minute" : `A ${Math.round(durationSeconds / 60)}-minute call`

const summaryOf = (
  durationSeconds: number,
  topics: ReadonlyArray<string>,
  points: ReadonlyArray<string>,
  step: NextStep | undefined
) => {
  const coverage = topics.length === 0 ? "" : ` that covered ${joinList(topics)}`
  const opening = `${durationText(durationSeconds)} between the rep and the buyer${coverage}.`
  const pointSentences = points.length === 0
    ? ["The buyer did not speak in the transcript."]
    : points.map((point) => `The buyer noted: "${point}".`)
  const closing = step === undefined
    ? "No next step was agreed on the call."
    : `The ${step.owner} committed to the next step: "${quotable(step.action)}".`
  return [opening, ...pointSentences, closing].join(" ")
}

const followupEmailOf = (topics: ReadonlyArray<string>, points: ReadonlyArray<string>, step: NextStep | undefined) => {
  const subject = topics.length === 0
    ? "Recap and next steps from today's call"
    : `Recap and next steps: ${topics.slice(0, 3).join(", ")}`
  const recap = topics.length === 0
    ? "Thank you for your time today. Here is a short recap of our conversation."
    : `Thank you for your time today. We covered ${joinList(topics)}.`
  const heard = points.length === 0 ? [] : [`What I heard from you:\n${points.map((point) => `- "${point}"`).join("\n")}`]
  let action = "I will suggest a time for a follow-up meeting in a separate email."
  if (step?.owner === "rep") action = step.action
  // The buyer's own words are quoted, because their "I" is not the sender of the email.
  if (step?.owner === "buyer") action = `as you mentioned, "${quotable(step.action)}".`
  const paragraphs = ["Hi,", recap, ...heard, `Next step: ${action}`, "Let me know if I missed anything.", "Best regards"]
  return `Subject: ${subject}\n\n${paragraphs.join("\n\n")}`
}

/**
 * Builds the autopop of a call: key topics by keyword, a summary of three to
 * five sentences quoting the buyer's main points, the last commitment made
 * as the next step, and a follow-up email that repeats them.
 */
export const draftAutopop = (input: AutopopInput): AutopopDraft => {
  const keyTopics = keyTopicsOf(input.transcript)
  const points = buyerPointsOf(input.transcript)
  const step = lastCommitmentOf(input.transcript)
  return {
    summary: summaryOf(input.durationSeconds, keyTopics, points, step),
    nextStep: formatNextStep(step),
    keyTopics,
    draftFollowupEmail: followupEmailOf(keyTopics, points, step)
  }
}
