import { Context, Data, Effect, Layer } from "effect"

/** One turn of an imported call transcript. */
export interface CallTurn {
  readonly speaker: "buyer" | "rep"
  readonly text: string
}

/** The moment of an imported call where the rep lost ground, with a better response to practise. */
export interface FailureMoment {
  readonly buyer_line: string
  readonly rep_response: string
  readonly diagnosis: string
  readonly better_response: string
}

/** A drill made from an imported call: its failure moment and the scenario that replays it. */
export interface GeneratedDrill {
  readonly failureMoment: FailureMoment
  /** Title of the drill scenario, at most 200 characters. */
  readonly title: string
  /** Instructions for the AI buyer of the drill scenario. */
  readonly prompt: string
}

/** The transcript has no buyer line that a rep turn responds to, so no failure moment can be chosen. */
export class NoFailureMoment extends Data.TaggedError("NoFailureMoment")<{
  readonly message: string
}> {}

/**
 * Port that turns an imported call transcript into a drill scenario. The
 * default `layer` is deterministic (`generateDrill`), and a generator backed by
 * a language model can replace it behind the same tag.
 */
export class ScenarioGenerator extends Context.Tag("saleslab/ScenarioGenerator")<ScenarioGenerator, {
  readonly generate: (transcript: ReadonlyArray<CallTurn>) => Effect.Effect<GeneratedDrill, NoFailureMoment>
}>() {
  /** Picks the failure moment with keyword heuristics and fills fixed templates. */
  static readonly layer = Layer.succeed(ScenarioGenerator, {
    generate: (transcript) => Effect.suspend(() => generateDrill(transcript))
  })
}

/** A kind of buyer objection that the default generator recognises. */
export type ObjectionType = "price" | "incumbent" | "competitor" | "not_interested" | "timing" | "authority" | "general"

interface ObjectionTemplate {
  /** Matches a buyer line that raises this objection; none for `general`. */
  readonly pattern: RegExp | undefined
  /** Skill the drill trains, used in the scenario title after "Drill: ". */
  readonly focus: string
  readonly diagnosis: string
  readonly betterResponse: string
}

/**
 * The objection templates. Buyer lines are tested against the patterns in
 * this order, so a line that mentions both a competitor and price counts as
 * a competitor objection.
 */
const templates: Readonly<Record<ObjectionType, ObjectionTemplate>> = {
  competitor: {
    pattern: /\b(competitors?|competition|other vendors?|another vendor|alternatives?|(looking at|evaluating|talking to|comparing) (other|another|a few|several|some))\b/i,
    focus: "uncover the criteria behind a competitor comparison",
    diagnosis:
      "The rep answered the competitor mention without learning which alternative the buyer is weighing or what will decide the choice.",
    betterResponse:
      "Good that you are comparing options. What will decide it for you, and how do we compare on that so far?"
  },
  price: {
    pattern: /\b(price|pricing|priced|cost|costs|costly|expensive|budget|budgets|afford|cheaper|discount|too much money|out of our range)\b/i,
    focus: "answer price pushback with value",
    diagnosis:
      "The rep responded to a price objection without first tying the cost to the problem the buyer needs solved.",
    betterResponse:
      "That is fair to raise. Before we talk numbers, what does it cost you each quarter that this problem stays unsolved?"
  },
  incumbent: {
    pattern: /\b(already (have|use|using|work with|working with|got)|current (vendor|provider|tool|solution|system)|happy with (our|what we|the one))\b/i,
    focus: "find the gap in the buyer's current solution",
    diagnosis:
      "The rep pushed past the buyer's existing solution instead of asking what it fails to do for them.",
    betterResponse: "Makes sense that you have something in place. What would you change about how it works today?"
  },
  not_interested: {
    pattern: /\b(not interested|no interest|don't need|do not need|no need|not a priority|not for us|not looking)\b/i,
    focus: "turn a brush-off into a conversation",
    diagnosis: "The rep accepted or argued with the brush-off instead of earning a reason for the buyer to keep talking.",
    betterResponse:
      "Fair enough. Before I let you go, how does your team handle this today, and what would make it worth a second look?"
  },
  timing: {
    pattern: /\b(not the right time|bad time|not right now|next quarter|next year|later this year|call (me|us) back|too busy|revisit (this|it) later)\b/i,
    focus: "learn what drives the buyer's timeline",
    diagnosis: "The rep let the timing objection stand without learning what drives the buyer's timeline.",
    betterResponse: "Understood. What has to happen before this becomes a priority, and when do you expect that?"
  },
  authority: {
    pattern: /\b(my boss|my manager|sign[- ]off|decision[- ]makers?|(check|talk|run it|run this) (with|by) (my|our|the)|not my call|not my decision|the board)\b/i,
    focus: "map the decision makers",
    diagnosis: "The rep did not find out who else decides or offer to help the buyer make the case internally.",
    betterResponse:
      "That makes sense. Who else weighs in, and what will they want to see? I can put together a one-page summary for them."
  },
  general: {
    pattern: undefined,
    focus: "ask before answering a buyer's concern",
    diagnosis: "The rep gave a short answer where the buyer's concern needed a question to uncover what was behind it.",
    betterResponse: "That is a fair point. Can you tell me more about what is behind it, so I address the right thing?"
  }
}

const objectionOrder: ReadonlyArray<Exclude<ObjectionType, "general">> = [
  "competitor",
  "price",
  "incumbent",
  "not_interested",
  "timing",
  "authority"
]

/** The objection a buyer line raises, or undefined when it matches no objection pattern. */
export const objectionTypeOf = (line: string): Exclude<ObjectionType, "general"> | undefined =>
  objectionOrder.find((type) => templates[type].pattern!.test(line))

/** A buyer line and the first rep turn after it. */
interface Exchange {
  readonly buyerLine: string
  readonly repResponse: string
}

/** Collects every non-blank buyer line that a later non-blank rep turn responds to, in transcript order. */
const exchangesOf = (transcript: ReadonlyArray<CallTurn>): ReadonlyArray<Exchange> => {
  const exchanges: Array<Exchange> = []
  // Walking backwards keeps the next rep response at hand, so long transcripts cost one pass.
  let nextRepAnswer: string | undefined
  for (let index = transcript.length - 1; index >= 0; index--) {
    const turn = transcript[index]!
    const text = turn.text.trim()
    if (text === "") continue
    if (turn.speaker === "rep") nextRepAnswer = text
    else if (nextRepAnswer !== undefined) exchanges.push({ buyerLine: text, repResponse: nextRepAnswer })
  }
  return exchanges.reverse()
}

/**
 * Chooses the failure moment of a call: the rep turn right after the first
 * buyer line that raises an objection. Without any objection it takes the
 * buyer line followed by the shortest rep answer, the earliest on a tie.
 */
export const findFailureMoment = (
  transcript: ReadonlyArray<CallTurn>
): { readonly exchange: Exchange; readonly type: ObjectionType } | undefined => {
  const exchanges = exchangesOf(transcript)
  for (const exchange of exchanges) {
    const type = objectionTypeOf(exchange.buyerLine)
    if (type !== undefined) return { exchange, type }
  }

  let shortest: Exchange | undefined
  for (const exchange of exchanges) {
    if (shortest === undefined || exchange.repResponse.length < shortest.repResponse.length) shortest = exchange
  }
  return shortest === undefined ? undefined : { exchange: shortest, type: "general" }
}

/** Characters of a call line quoted in a scenario prompt, so the prompt stays well under 4000 characters. */
const quotedLineLength = 600

const quote = (line: string) => {
  const collapsed = line.replace(/\s+/g, " ")
  return collapsed.length <= quotedLineLength ? collapsed : `${collapsed.slice(0, quotedLineLength - 1)}…`
}

/** Builds the buyer instructions of the drill scenario from the failure moment. */
const drillPrompt = (moment: FailureMoment) =>
  [
    "You are the buyer on a sales call, replaying a moment from a recorded call.",
    `Early in the call, raise this concern in your own words: "${quote(moment.buyer_line)}"`,
    `In the recorded call the rep answered: "${quote(moment.rep_response)}". ${moment.diagnosis}`,
    `Stay unconvinced unless the rep handles it the way a strong rep would, for example: "${moment.better_response}"`,
    "If the rep does, warm up and agree to a concrete next step."
  ].join("\n")

/**
 * Builds a drill from a call transcript: the failure moment from
 * `findFailureMoment`, the diagnosis and better response from the template of
 * its objection type, and a scenario whose buyer replays the objection.
 * Fails with `NoFailureMoment` when no buyer line is answered by the rep.
 */
export const generateDrill = (transcript: ReadonlyArray<CallTurn>): Effect.Effect<GeneratedDrill, NoFailureMoment> => {
  const found = findFailureMoment(transcript)
  if (found === undefined) {
    return Effect.fail(
      new NoFailureMoment({ message: "The transcript needs at least one buyer line followed by a rep turn." })
    )
  }

  const template = templates[found.type]
  const failureMoment: FailureMoment = {
    buyer_line: found.exchange.buyerLine,
    rep_response: found.exchange.repResponse,
    diagnosis: template.diagnosis,
    better_response: template.betterResponse
  }
  return Effect.succeed({
    failureMoment,
    title: `Drill: ${template.focus}`,
    prompt: drillPrompt(failureMoment)
  })
}
