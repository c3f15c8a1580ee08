import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { companyIdOf, endedAtOf, parseWebhookBody, sessionIdOf } from "../../src/practice/PostCallPayload.ts"

const fixtureText = readFileSync(new URL("../fixtures/elevenlabs-post-call.json", import.meta.url), "utf8")
const fixture = () => JSON.parse(fixtureText) as Record<string, any>

const parsePostCall = (body: unknown) => {
  const parsed = parseWebhookBody(JSON.stringify(body))
  if (parsed._tag !== "PostCall") throw new Error(`expected a post-call payload, got ${JSON.stringify(parsed)}`)
  return parsed.payload
}

const problemOf = (body: unknown) => {
  const parsed = parseWebhookBody(JSON.stringify(body))
  if (parsed._tag !== "Invalid") throw new Error(`expected an invalid payload, got ${parsed._tag}`)
  return parsed.problem
}

describe("parseWebhookBody", () => {
  it("reads the sample payload", () => {
    const payload = parsePostCall(fixture())
    expect(payload.data.conversation_id).toBe("conv_4801k0pt2m6ef3qv8s1yxr7kgn")
    expect(payload.data.transcript).toHaveLength(12)
    expect(sessionIdOf(payload)).toBe("{{saleslab_session_id}}")
    expect(companyIdOf(payload)).toBe("{{saleslab_company_id}}")
  })

  it("rejects a body that is not JSON", () => {
    expect(parseWebhookBody("{\"type\":")).toEqual({
      _tag: "Invalid",
      problem: { field: undefined, message: "The webhook body is not valid JSON." }
    })
  })

  it("names the missing type", () => {
    expect(parseWebhookBody("{}")).toEqual({
      _tag: "Invalid",
      problem: { field: "type", message: "The webhook field type is missing." }
    })
  })

  it("ignores other webhook types", () => {
    expect(parseWebhookBody(JSON.stringify({ type: "post_call_audio", data: {} }))).toEqual({
      _tag: "OtherType",
      type: "post_call_audio"
    })
  })

  it("names a missing nested field", () => {
    const body = fixture()
    delete body.data.conversation_id
    const problem = problemOf(body)
    expect(problem.field).toBe("data.conversation_id")
    expect(problem.message).toBe("The webhook field data.conversation_id is missing.")
  })

  it("names a field of the wrong type", () => {
    const body = fixture()
    body.data.transcript[3].role = 7
    const problem = problemOf(body)
    expect(problem.field).toBe("data.transcript.3.role")
    expect(problem.message).toMatch(/^The webhook field data\.transcript\.3\.role is invalid: /)
  })

  it("rejects call times outside any real call", () => {
    const cases: ReadonlyArray<[string, (body: Record<string, any>) => void]> = [
      ["data.metadata.call_duration_secs", (body) => (body.data.metadata.call_duration_secs = 1e12)],
      ["data.metadata.call_duration_secs", (body) => (body.data.metadata.call_duration_secs = -5)],
      ["data.metadata.start_time_unix_secs", (body) => (body.data.metadata.start_time_unix_secs = 1e15)],
      ["event_timestamp", (body) => (body.event_timestamp = -1)]
    ]
    for (const [field, corrupt] of cases) {
      const body = fixture()
      corrupt(body)
      expect(problemOf(body).field).toBe(field)
    }
  })

  it("accepts null for optional sections", () => {
    const body = fixture()
    body.data.metadata = null
    body.data.analysis.data_collection_results = null
    body.data.conversation_initiation_client_data = null
    const payload = parsePostCall(body)
    expect(payload.data.analysis.data_collection_results).toEqual({})
    expect(sessionIdOf(payload)).toBeUndefined()
  })
})

describe("endedAtOf", () => {
  it("adds the call duration to its start", () => {
    expect(endedAtOf(parsePostCall(fixture()))?.toISOString()).toBe("2026-05-19T13:41:27.000Z")
  })

  it("falls back to the event timestamp", () => {
    const body = fixture()
    delete body.data.metadata.call_duration_secs
    expect(endedAtOf(parsePostCall(body))?.toISOString()).toBe("2026-05-19T13:41:31.000Z")
  })

  it("is undefined without any time", () => {
    const body = fixture()
    body.data.metadata = null
    delete body.event_timestamp
    expect(endedAtOf(parsePostCall(body))).toBeUndefined()
  })
})
