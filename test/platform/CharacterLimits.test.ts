import { describe, expect, it } from "@effect/vitest"
import { Effect, JSONSchema, Schema } from "effect"
import { characterCount, maxCharacters, sliceCharacters } from "../../src/Json.ts"
import { titleFromPrompt } from "../../src/practice/Scenarios.ts"
import { TestServerLive } from "../support/TestServer.ts"
import { createTenant, sendAs } from "../support/Tenants.ts"

const emoji = "\u{1F600}"

describe("Character limits", () => {
  it("emoji counts as one character", () => {
    expect(characterCount("")).toBe(0)
    expect(characterCount("abc")).toBe(3)
    expect(characterCount(emoji.repeat(3))).toBe(3)
    expect(characterCount(`a${emoji}b`)).toBe(3)
    // A lone surrogate is one character of its own.
    expect(characterCount("\ud83d")).toBe(1)
    expect(characterCount("\ude00\ud83d")).toBe(2)
  })

  it("slice keeps surrogate pairs whole", () => {
    expect(sliceCharacters(emoji.repeat(3), 2)).toBe(emoji.repeat(2))
    expect(sliceCharacters(`a${emoji}b`, 2)).toBe(`a${emoji}`)
    expect(sliceCharacters("abc", 5)).toBe("abc")
    expect(sliceCharacters("\ud83d", 1)).toBe("\ud83d")
  })

  it("derived title keeps emoji whole", () => {
    const title = titleFromPrompt(emoji.repeat(100))

    expect(title).toBe(`${emoji.repeat(79)}…`)
    expect(titleFromPrompt(emoji.repeat(80))).toBe(emoji.repeat(80))
  })

  it("limit counts code points", () => {
    const Title = Schema.String.pipe(maxCharacters(3))
    const decode = Schema.decodeUnknownEither(Title)

    expect(decode(emoji.repeat(3))._tag).toBe("Right")
    expect(decode(emoji.repeat(4))._tag).toBe("Left")
    expect(decode("abcd")._tag).toBe("Left")
  })

  it("OpenAPI keeps maxLength", () => {
    expect(JSONSchema.make(Schema.String.pipe(maxCharacters(3)))).toMatchObject({ type: "string", maxLength: 3 })
  })

  it.layer(TestServerLive())((it) => {
    it.effect("request limits count characters", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Emoji")
        const scenario = yield* sendAs(token, "POST", "/v1/scenarios", { prompt: "A buyer.", title: emoji.repeat(200) })
        expect(scenario.status).toBe(201)
        expect(scenario.body.title).toBe(emoji.repeat(200))

        const tooLong = yield* sendAs(token, "POST", "/v1/scenarios", { prompt: "A buyer.", title: emoji.repeat(201) })
        expect(tooLong.status).toBe(400)
        expect(tooLong.body.message).toContain("'title': must be at most 200 characters")

        // The 400 cuts a long issue text to 300 characters, with no half of an emoji at the cut.
        const longName = yield* sendAs(token, "POST", "/v1/users", { email: "emoji@example.com", name: emoji.repeat(400) })
        expect(longName.status).toBe(400)
        expect(longName.body.message).toContain(`${emoji}…`)
        expect(longName.body.message).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/)

        const url = "http://127.0.0.1:9/hook"
        const described = yield* sendAs(token, "POST", "/v1/webhooks", { url, description: emoji.repeat(500) })
        expect(described.status).toBe(201)

        const overlong = yield* sendAs(token, "POST", "/v1/webhooks", { url, description: emoji.repeat(501) })
        expect(overlong.status).toBe(400)
        expect(overlong.body.message).toContain("description is 501 characters long; the maximum is 500.")
      }))
  })
})
