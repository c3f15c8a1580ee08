import { createHmac } from "node:crypto"

/** Value of `user-agent` on every outbound delivery. */
export const deliveryUserAgent = "sales-lab-webhooks/1"

/**
 * Returns the `x-saleslab-signature` value of a body: `sha256=` followed by
 * the lowercase hex HMAC-SHA256 of the body's UTF-8 bytes, keyed with the
 * UTF-8 bytes of the whole secret string (`sl_whsec_...`, prefix included).
 * Node encodes both strings as UTF-8 itself, with no buffer in between.
 */
export const signatureHeader = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`

/** Fields needed to sign a delivery. The stored body is sent unchanged. */
export interface SignableDelivery {
  readonly deliveryId: string
  readonly eventKind: string
  readonly body: string
  readonly secret: string
}

/**
 * Returns the headers the engine sets on a delivery attempt. The sender
 * (`node:http`) adds only its transport headers (`host`, `content-length`
 * and `connection`), so these five are the whole application header set.
 */
export const deliveryHeaders = (delivery: SignableDelivery): Record<string, string> => ({
  "content-type": "application/json",
  "user-agent": deliveryUserAgent,
  "x-saleslab-event": delivery.eventKind,
  "x-saleslab-delivery-id": delivery.deliveryId,
  "x-saleslab-signature": signatureHeader(delivery.secret, delivery.body)
})
