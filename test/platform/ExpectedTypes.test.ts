import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { expectedTypesOf, jsonTypeName } from "../../src/platform/ExpectedTypes.ts"

const shared = "Shared text of a string field and a check."

const Payload = Schema.Struct({
  tags: Schema.Array(Schema.String).annotations({ description: "Tags of the thing." }),
  note: Schema.optional(Schema.NullOr(Schema.String).annotations({ description: "A note, or null." })),
  size: Schema.Number.annotations({ description: shared }),
  code: Schema.String.pipe(Schema.minLength(2)).annotations({ description: shared }),
  kind: Schema.Literal("a", "b").annotations({ description: "Kind of the thing." })
})

const api = HttpApi.make("test").add(
  HttpApiGroup.make("things").add(HttpApiEndpoint.post("create", "/things").setPayload(Payload))
)

describe("Expected types", () => {
  it("annotated fields map to JSON types", () => {
    const expected = expectedTypesOf(api)

    expect(expected.get("Tags of the thing.")).toBe("an array")
    expect(expected.get("A note, or null.")).toBe("a string or null")
    expect(expected.get("Kind of the thing.")).toBe(`"a" or "b"`)
    expect(expected.get("string")).toBe("a string")
  })

  it("refinement text keeps its wording", () => {
    expect(expectedTypesOf(api).has(shared)).toBe(false)
  })

  it("declarations have no type name", () => {
    expect(jsonTypeName(Schema.DateFromSelf.ast)).toBeUndefined()
    expect(jsonTypeName(Schema.Union(Schema.String, Schema.DateFromSelf).ast)).toBeUndefined()
    expect(jsonTypeName(Schema.NumberFromString.ast)).toBe("a string")
  })
})
