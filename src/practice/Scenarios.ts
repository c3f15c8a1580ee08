import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { characterCount, sliceCharacters } from "../Json.ts"
import { type CreateScenario, type Scenario, ScenarioId } from "./Api.ts"
import { PracticeRepo } from "./PracticeRepo.ts"

/** Pass mark of a scenario created without one. */
export const defaultPassMark = 70

/** Maximum length of a title derived from a prompt, in characters. */
const derivedTitleLength = 80

/**
 * Derives the title of a scenario created without one: the first sentence
 * of the prompt's first non-blank line, with whitespace collapsed. A longer
 * sentence is cut at a word boundary to 80 characters with an ellipsis.
 */
export const titleFromPrompt = (prompt: string): string => {
  const firstLine = prompt.split(/\r?\n/).map((line) => line.trim()).find((line) => line !== "") ?? ""
  const sentence = (firstLine.split(/(?<=[.!?])\s/)[0] ?? firstLine).replace(/\s+/g, " ").trim()
  if (characterCount(sentence) <= derivedTitleLength) return sentence
  const cut = sliceCharacters(sentence, derivedTitleLength - 1)
  const wordBoundary = cut.lastIndexOf(" ")
  return `${(wordBoundary > 0 ? cut.slice(0, wordBoundary) : cut).replace(/[\s,;:.-]+$/, "")}…`
}

/** Creates the practice scenarios of a tenant. */
export class Scenarios extends Effect.Service<Scenarios>()("saleslab/Scenarios", {
  effect: Effect.gen(function*() {
    const repo = yield* PracticeRepo

    const create = (companyId: string, input: CreateScenario) =>
      Effect.gen(function*() {
        const scenario: Scenario = {
          id: ScenarioId.make(randomUUID()),
          title: input.title?.trim() ?? titleFromPrompt(input.prompt),
          prompt: input.prompt.trim(),
          pass_mark: input.pass_mark ?? defaultPassMark,
          created_at: new Date(yield* Clock.currentTimeMillis)
        }
        yield* repo.insertScenario({ ...scenario, company_id: companyId })
        return scenario
      }).pipe(Effect.withSpan("Scenarios.create", { attributes: { companyId } }))

    return { create } as const
  }),
  dependencies: [PracticeRepo.Default]
}) {}
