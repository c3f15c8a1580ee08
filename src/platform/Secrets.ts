import { createHash, randomBytes } from "node:crypto"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * Returns `length` characters drawn uniformly from [0-9A-Za-z] by the
 * operating system's cryptographic generator, for tokens, secrets and ids.
 */
export const randomBase62 = (length: number): string => {
  let out = ""
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 is the largest multiple of 62 below 256; higher bytes are skipped to avoid bias.
      if (byte < 248 && out.length < length) out += base62[byte % 62]
    }
  }
  return out
}

/** Returns the lowercase hex SHA-256 of a UTF-8 string, the stored form of API tokens. */
export const sha256Hex = (value: string): string => createHash("sha256").update(value, "utf8").digest("hex")
