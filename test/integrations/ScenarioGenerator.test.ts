import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import {
  type CallTurn,
  findFailureMoment,
  generateDrill,
  objectionTypeOf,
  ScenarioGenerator
} from "../../src/integrations/ScenarioGenerator.ts"

const buyer = (text: string): CallTurn => ({ speaker: "buyer", text })
const rep = (text: string): CallTurn => ({ speaker: "rep", text })

describe("objectionTypeOf", () => {
  it("recognises each objection type", () => {
    const cases: ReadonlyArray<[string, string | undefined]> = [
      ["Honestly this is too expensive for us.", "price"],
      ["We don't have the budget this year.", "price"],
      ["We already have a vendor for this.", "incumbent"],
      ["Our current tool does most of it.", "incumbent"],
      ["We're looking at a few other options, including a competitor of yours.", "competitor"],
      ["I'm not interested, thanks.", "not_interested"],
      ["Call me back next quarter.", "timing"],
      ["I'd need to run it by my boss.", "authority"],
      ["How does the onboarding work?", undefined]
    ]
    for (const [line, expected] of cases) {
      expect(objectionTypeOf(line), line).toBe(expected)
    }
  })

  it("prefers competitor over price", () => {
    expect(objectionTypeOf("A competitor quoted us a lower price.")).toBe("competitor")
  })
})

describe("findFailureMoment", () => {
  it("takes rep turn after first objection", () => {
    const found = findFailureMoment([
      rep("Thanks for taking the call."),
      buyer("Sure. What does it do?"),
      rep("It routes deliveries across sites."),
      buyer("Honestly, the price is too high for us."),
      rep("Ours is the best on the market."),
      buyer("We already have a vendor."),
      rep("OK.")
    ])
    expect(found?.type).toBe("price")
    expect(found?.exchange.buyerLine).toBe("Honestly, the price is too high for us.")
    expect(found?.exchange.repResponse).toBe("Ours is the best on the market.")
  })

  it("skips further buyer turns to the next rep turn", () => {
    const found = findFailureMoment([
      buyer("We already have a vendor for this."),
      buyer("And they're fine."),
      rep("Sure, but ours is better.")
    ])
    expect(found?.type).toBe("incumbent")
    expect(found?.exchange.buyerLine).toBe("We already have a vendor for this.")
    expect(found?.exchange.repResponse).toBe("Sure, but ours is better.")
  })

  it("ignores an objection nobody answered", () => {
    const found = findFailureMoment([
      buyer("How many sites do you support?"),
      rep("Up to two hundred, with one dashboard for all of them."),
      buyer("This is too expensive.")
    ])
    expect(found?.type).toBe("general")
    expect(found?.exchange.buyerLine).toBe("How many sites do you support?")
  })

  it("falls back to shortest rep answer", () => {
    const found = findFailureMoment([
      buyer("How does routing work across sites?"),
      rep("Every site gets its own queue, and a central planner balances the load every five minutes."),
      buyer("What happens when a driver calls in sick?"),
      rep("It adapts."),
      buyer("And reporting?"),
      rep("Dashboards.")
    ])
    expect(found?.type).toBe("general")
    expect(found?.exchange.buyerLine).toBe("What happens when a driver calls in sick?")
    expect(found?.exchange.repResponse).toBe("It adapts.")
  })

  it("skips blank turns", () => {
    const found = findFailureMoment([buyer("  "), rep("Hello?"), buyer("It costs too much."), rep("   "), rep("Fine.")])
    expect(found?.type).toBe("price")
    expect(found?.exchange.repResponse).toBe("Fine.")
  })

  it("finds nothing without an answered buyer line", () => {
    expect(findFailureMoment([rep("Hi, anyone there?"), buyer("Sorry, wrong number.")])).toBeUndefined()
    expect(findFailureMoment([rep("Leaving a voicemail.")])).toBeUndefined()
  })
})

describe("generateDrill", () => {
  it.effect("fills the price template", () =>
    Effect.gen(function*() {
      const drill = yield* generateDrill([
        buyer("Your price is way above what we pay today."),
        rep("Well, you get what you pay for.")
      ])
      expect(drill.failureMoment).toEqual({
        buyer_line: "Your price is way above what we pay today.",
        rep_response: "Well, you get what you pay for.",
        diagnosis:
          "The rep responded to a price objection without first tying the cost to the problem the buyer needs solved.",
        better_response:
          "That is fair to raise. Before we talk numbers, what does it cost you each quarter that this problem stays unsolved?"
      })
      expect(drill.title).toBe("Drill: answer price pushback with value")
      expect(drill.prompt).toContain("\"Your price is way above what we pay today.\"")
      expect(drill.prompt).toContain("\"Well, you get what you pay for.\"")
      expect(drill.prompt).toContain(drill.failureMoment.better_response)
    }))

  it.effect("gives each type its own drill", () =>
    Effect.gen(function*() {
      const lines = [
        "It's too expensive.",
        "We already have a tool for that.",
        "We're evaluating other vendors.",
        "Not interested.",
        "Call me back next year.",
        "That's not my decision.",
        "What about reporting?"
      ]
      const titles = new Set<string>()
      const diagnoses = new Set<string>()
      for (const line of lines) {
        const drill = yield* generateDrill([buyer(line), rep("Okay.")])
        titles.add(drill.title)
        diagnoses.add(drill.failureMoment.diagnosis)
        expect(drill.title.length).toBeLessThanOrEqual(200)
      }
      expect(titles.size).toBe(lines.length)
      expect(diagnoses.size).toBe(lines.length)
    }))

  it.effect("quotes long lines shortened", () =>
    Effect.gen(function*() {
      const long = `It costs too much ${"and then some ".repeat(300)}`
      const drill = yield* generateDrill([buyer(long), rep("Hm.")])
      expect(drill.failureMoment.buyer_line).toBe(long.trim())
      expect(drill.prompt.length).toBeLessThan(4000)
      expect(drill.prompt).toContain("…")
    }))

  it.effect("fails without a failure moment", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(generateDrill([rep("Hello?")]))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(generateDrill([rep("Hello?")]))
      expect(error._tag).toBe("NoFailureMoment")
    }))

  it.effect("default layer is deterministic", () =>
    Effect.gen(function*() {
      const generator = yield* ScenarioGenerator
      const transcript = [buyer("We're happy with our current provider."), rep("Ours is newer.")]
      const first = yield* generator.generate(transcript)
      const second = yield* generator.generate(transcript)
      expect(second).toEqual(first)
      expect(first.failureMoment.rep_response).toBe("Ours is newer.")
    }).pipe(Effect.provide(ScenarioGenerator.layer)))
})
