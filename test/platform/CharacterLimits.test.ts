import { describe, expect, it } from "@effect/vitest"
import { Effect, JSONSchema, Schema } from "effect"
import { characterCount, maxCharacters } from "../../src/Json.ts"
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

        const url = "http://127.0.0.1:9/hook"
        const described = yield* sendAs(token, "POST", "/v1/webhooks", { url, description: emoji.repeat(500) })
        expect(described.status).toBe(201)

        const overlong = yield* sendAs(token, "POST", "/v1/webhooks", { url, description: emoji.repeat(501) })
        expect(overlong.status).toBe(400)
        expect(overlong.body.message).toContain("description is 501 characters long; the maximum is 500.")
      }))
  })
})
