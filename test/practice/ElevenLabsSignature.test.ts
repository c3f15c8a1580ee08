import { describe, expect, it } from "@effect/vitest"
import { createHmac } from "node:crypto"
import { signElevenLabsPayload, verifyElevenLabsSignature } from "../../src/practice/ElevenLabsSignature.ts"

const secret = "wsec_unit_test_secret"
const body = `{"type":"post_call_transcription","data":{"conversation_id":"conv_1","note":"café"}}`
const bytes = Buffer.from(body, "utf8")
const signedAt = 1_779_197_531
const atSeconds = (seconds: number) => seconds * 1000

const verify = (header: string | undefined, nowMillis = atSeconds(signedAt + 5), payload: Uint8Array = bytes) =>
  verifyElevenLabsSignature({ secret, header, body: payload, nowMillis })

describe("ElevenLabs signature", () => {
  it("signs the timestamp, a dot and the raw body", () => {
    const expected = createHmac("sha256", secret).update(`${signedAt}.${body}`).digest("hex")
    expect(signElevenLabsPayload(secret, body, signedAt)).toBe(`t=${signedAt},v0=${expected}`)
  })

  it("accepts a good signature", () => {
    expect(verify(signElevenLabsPayload(secret, bytes, signedAt))).toBeUndefined()
  })

  it("accepts spaces and extra schemes in the header", () => {
    const good = signElevenLabsPayload(secret, bytes, signedAt).split(",")[1]!
    expect(verify(` t=${signedAt} , v1=ignored, v0=${"0".repeat(64)}, ${good}`)).toBeUndefined()
  })

  it("rejects a missing header", () => {
    expect(verify(undefined)).toBe("missing")
    expect(verify("  ")).toBe("missing")
  })

  it("rejects a malformed header", () => {
    expect(verify("v0=abc")).toBe("malformed")
    expect(verify(`t=${signedAt}`)).toBe("malformed")
    expect(verify(`t=soon,v0=${"a".repeat(64)}`)).toBe("malformed")
  })

  it("rejects another secret", () => {
    expect(verify(signElevenLabsPayload("wsec_other", bytes, signedAt))).toBe("mismatch")
  })

  it("rejects a changed body", () => {
    const header = signElevenLabsPayload(secret, bytes, signedAt)
    expect(verify(header, atSeconds(signedAt), Buffer.from(body.replace("conv_1", "conv_2")))).toBe("mismatch")
  })

  it("rejects a signature that is not hex", () => {
    expect(verify(`t=${signedAt},v0=${"z".repeat(64)}`)).toBe("mismatch")
    expect(verify(`t=${signedAt},v0=abcd`)).toBe("mismatch")
  })

  it("rejects a signature reused with another timestamp", () => {
    const signature = signElevenLabsPayload(secret, bytes, signedAt).split(",")[1]!
    expect(verify(`t=${signedAt + 1},${signature}`)).toBe("mismatch")
  })

  it("accepts up to thirty minutes of clock distance", () => {
    const header = signElevenLabsPayload(secret, bytes, signedAt)
    expect(verify(header, atSeconds(signedAt + 30 * 60))).toBeUndefined()
    expect(verify(header, atSeconds(signedAt - 30 * 60))).toBeUndefined()
    expect(verify(header, atSeconds(signedAt + 30 * 60) + 1)).toBe("expired")
    expect(verify(header, atSeconds(signedAt - 30 * 60) - 1)).toBe("expired")
  })
})
