import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CallTurn } from "../../src/integrations/ScenarioGenerator.ts"
import {
  AutopopGenerator,
  buyerPointsOf,
  draftAutopop,
  keyTopicsOf,
  nextStepOf
} from "../../src/realtime/AutopopGenerator.ts"

const buyer = (text: string): CallTurn => ({ speaker: "buyer", text })
const rep = (text: string): CallTurn => ({ speaker: "rep", text })

const discoveryCall: ReadonlyArray<CallTurn> = [
  rep("Thanks for joining, Dana."),
  buyer("Sure. Our current routing tool breaks down across our six sites."),
  rep("How are you handling that today?"),
  buyer("Spreadsheets, mostly. Budget is approved for Q3, but security needs SSO and a SOC 2 report first."),
  rep("We have both. Does it need to sync with Salesforce?"),
  buyer("Yes, the Salesforce integration is a must."),
  rep("Great. I'll send the security questionnaire to you by Friday."),
  buyer("Sounds good.")
]

/** Counts the sentences of a summary. A quoted point carries no sentence end of its own. */
const sentenceCount = (summary: string) => summary.split(/(?<=[.!?]"?[.]?)\s+(?=[A-Z])/).length

describe("keyTopicsOf", () => {
  it("lists topics by first mention", () => {
    // Budget comes before Q3 and Q3 before SSO in the same turn.
    expect(keyTopicsOf(discoveryCall)).toEqual(["pricing", "timeline", "security review", "integration"])
  })

  it("recognises procurement and competitors", () => {
    const topics = keyTopicsOf([
      buyer("Legal review of the MSA takes two weeks."),
      buyer("We're also looking at an alternative.")
    ])
    expect(topics).toEqual(["procurement", "competition"])
  })

  it("finds nothing in small talk", () => {
    expect(keyTopicsOf([rep("How was the weekend?"), buyer("Quiet, thanks.")])).toEqual([])
  })
})

describe("nextStepOf", () => {
  it("takes the last commitment", () => {
    const step = nextStepOf([
      rep("Let me check with our team."),
      buyer("I will loop in our CISO next week. Thanks."),
      rep("Perfect, talk soon.")
    ])
    expect(step).toBe("Buyer: I will loop in our CISO next week.")
  })

  it("names the rep as owner", () => {
    expect(nextStepOf(discoveryCall)).toBe("Rep: I'll send the security questionnaire to you by Friday.")
  })

  it("falls back to a recap email", () => {
    expect(nextStepOf([rep("Bye now."), buyer("Bye.")])).toBe(
      "Rep: send a recap email within one business day and propose a follow-up meeting."
    )
  })
})

describe("buyerPointsOf", () => {
  it("quotes the most topical sentences in order", () => {
    expect(buyerPointsOf(discoveryCall)).toEqual([
      "Our current routing tool breaks down across our six sites",
      "Budget is approved for Q3, but security needs SSO and a SOC 2 report first",
      "Yes, the Salesforce integration is a must"
    ])
  })

  it("keeps short lines when nothing else", () => {
    expect(buyerPointsOf([buyer("Okay."), rep("So, shall we?"), buyer("Sure.")])).toEqual(["Okay", "Sure"])
  })

  it("replaces double quotes and shortens", () => {
    const [point] = buyerPointsOf([buyer(`They call it "the grid" ${"and more ".repeat(40)}`)])
    expect(point).toContain("'the grid'")
    expect(point!.length).toBe(160)
    expect(point!.endsWith("…")).toBe(true)
  })
})

describe("draftAutopop", () => {
  it("drafts every field of a call", () => {
    const draft = draftAutopop({ transcript: discoveryCall, durationSeconds: 540 })

    expect(draft.summary).toBe(
      "A 9-minute call between the rep and the buyer that covered pricing, timeline, security review and integration. " +
        "The buyer noted: \"Our current routing tool breaks down across our six sites\". " +
        "The buyer noted: \"Budget is approved for Q3, but security needs SSO and a SOC 2 report first\". " +
        "The buyer noted: \"Yes, the Salesforce integration is a must\". " +
        "The rep committed to the next step: \"I'll send the security questionnaire to you by Friday\"."
    )
    expect(draft.nextStep).toBe("Rep: I'll send the security questionnaire to you by Friday.")
    expect(draft.keyTopics).toEqual(["pricing", "timeline", "security review", "integration"])
    expect(draft.draftFollowupEmail).toBe(
      "Subject: Recap and next steps: pricing, timeline, security review\n\n" +
        "Hi,\n\n" +
        "Thank you for your time today. We covered pricing, timeline, security review and integration.\n\n" +
        "What I heard from you:\n" +
        "- \"Our current routing tool breaks down across our six sites\"\n" +
        "- \"Budget is approved for Q3, but security needs SSO and a SOC 2 report first\"\n" +
        "- \"Yes, the Salesforce integration is a must\"\n\n" +
        "Next step: I'll send the security questionnaire to you by Friday.\n\n" +
        "Let me know if I missed anything.\n\n" +
        "Best regards"
    )
  })

  it("summary has three to five sentences", () => {
    const transcripts: ReadonlyArray<ReadonlyArray<CallTurn>> = [
      [rep("Hello?")],
      [buyer("We need this before the end of the quarter, honestly.")],
      discoveryCall,
      [...discoveryCall, buyer("One more thing about pricing for the extra seats."), buyer("And the API limits too.")]
    ]
    const counts = transcripts.map((transcript) => sentenceCount(draftAutopop({ transcript, durationSeconds: 90 }).summary))
    expect(counts).toEqual([3, 3, 5, 5])
  })

  it("writes a short call without commitments", () => {
    const draft = draftAutopop({ transcript: [rep("Hello?")], durationSeconds: 20 })
    expect(draft.summary).toBe(
      "A call of under a minute between the rep and the buyer. The buyer did not speak in the transcript. " +
        "No next step was agreed on the call."
    )
    expect(draft.keyTopics).toEqual([])
    expect(draft.draftFollowupEmail.startsWith("Subject: Recap and next steps from today's call\n\nHi,")).toBe(true)
    expect(draft.draftFollowupEmail).toContain("Next step: I will suggest a time for a follow-up meeting")
  })

  it("quotes a buyer's commitment in the email", () => {
    const draft = draftAutopop({
      transcript: [rep("Does that work?"), buyer("I will loop in our CISO next week.")],
      durationSeconds: 300
    })
    expect(draft.nextStep).toBe("Buyer: I will loop in our CISO next week.")
    expect(draft.draftFollowupEmail).toContain("Next step: as you mentioned, \"I will loop in our CISO next week\".")
  })

  it.effect("default layer is deterministic", () =>
    Effect.gen(function*() {
      const generator = yield* AutopopGenerator
      const first = yield* generator.generate({ transcript: discoveryCall, durationSeconds: 540 })
      const second = yield* generator.generate({ transcript: discoveryCall, durationSeconds: 540 })
      expect(second).toEqual(first)
      expect(first.nextStep).toBe("Rep: I'll send the security questionnaire to you by Friday.")
    }).pipe(Effect.provide(AutopopGenerator.layer)))
})
