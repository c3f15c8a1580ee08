import { createHmac, timingSafeEqual } from "node:crypto"

/**
 * The `ElevenLabs-Signature` header of incoming webhooks:
 * `t=<unix seconds>,v0=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with the
 * webhook secret as UTF-8 bytes.
 */

/** Maximum distance between the signed timestamp and now before a signature counts as expired. */
export const signatureToleranceSeconds = 30 * 60

/** Reason a signature was rejected. It goes to the log only, so the response does not reveal it. */
export type SignatureRejection = "missing" | "malformed" | "expired" | "mismatch"

const hmacHex = (secret: string, timestamp: string, body: Uint8Array) =>
  createHmac("sha256", secret).update(`${timestamp}.`, "utf8").update(body).digest("hex")

/** Builds the header value that signs `body` at `timestampSeconds`, as ElevenLabs does. */
export const signElevenLabsPayload = (secret: string, body: string | Uint8Array, timestampSeconds: number): string => {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body
  const timestamp = String(Math.floor(timestampSeconds))
  return `t=${timestamp},v0=${hmacHex(secret, timestamp, bytes)}`
}

const parseHeader = (header: string) => {
  let timestamp: string | undefined
  const signatures: Array<string> = []
  for (const part of header.split(",")) {
    const separator = part.indexOf("=")
    if (separator < 0) continue
    const key = part.slice(0, separator).trim()
    const value = part.slice(separator + 1).trim()
    if (key === "t") timestamp = value
    if (key === "v0") signatures.push(value)
  }
  return { timestamp, signatures }
}

/**
 * Checks the header against the raw body bytes at `nowMillis`. Returns
 * `undefined` when one `v0` signature matches within the tolerance, else the
 * reason for the rejection. Signatures are compared in constant time.
 */
export const verifyElevenLabsSignature = (options: {
  readonly secret: string
  readonly header: string | undefined
  readonly body: Uint8Array
  readonly nowMillis: number
}): SignatureRejection | undefined => {
  if (options.header === undefined || options.header.trim() === "") return "missing"

  const { signatures, timestamp } = parseHeader(options.header)
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) return "malformed"
  if (Math.abs(options.nowMillis / 1000 - Number(timestamp)) > signatureToleranceSeconds) return "expired"

  const expected = Buffer.from(hmacHex(options.secret, timestamp, options.body), "hex")
  const matches = signatures.some((signature) => {
    if (!/^[0-9a-fA-F]{64}$/.test(signature)) return false
    return timingSafeEqual(Buffer.from(signature, "hex"), expected)
  })
  return matches ? undefined : "mismatch"
}
