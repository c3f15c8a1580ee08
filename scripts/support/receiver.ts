import { createHmac, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"

/** One delivery as the receiver got it. */
export interface ReceivedDelivery {
  readonly eventKind: string
  readonly deliveryId: string
  readonly signatureValid: boolean
  /** Raw request body, exactly as signed. */
  readonly body: string
  /** `performance.now()` when the whole body had arrived, in milliseconds. */
  readonly receivedAt: number
}

/**
 * Returns whether `header` is `sha256=` followed by the hex HMAC-SHA256 of
 * the raw `body`, keyed with the UTF-8 bytes of the whole `secret` string.
 * The comparison takes constant time.
 */
export const verifySignature = (secret: string, body: string, header: string): boolean => {
  if (!header.startsWith("sha256=")) return false
  const received = Buffer.from(header.slice("sha256=".length), "hex")
  const expected = createHmac("sha256", secret).update(body, "utf8").digest()
  return received.length === expected.length && timingSafeEqual(received, expected)
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

/** TCP connections that senders have opened to the receiver. */
export interface ConnectionCounts {
  /** Connections open now. */
  readonly open: number
  /** Maximum number of connections open at once since the start or the last `resetPeakConnections`. */
  readonly peak: number
  /** Connections opened since the start. */
  readonly total: number
}

/** Options of `startReceiver`. */
export interface ReceiverOptions {
  /**
   * Returns the secrets that may have signed the delivery with this id. A
   * signature is valid when one of them produces it. Without this option
   * the receiver checks the secrets given to `setSecret` and `addSecret`.
   */
  readonly secretsFor?: (deliveryId: string) => ReadonlyArray<string>
}

/** A webhook endpoint on 127.0.0.1 that verifies every delivery it gets. */
export interface Receiver {
  /** URL to subscribe, such as `http://127.0.0.1:41234/saleslab/webhook`. */
  readonly url: string
  /** Sets the subscription secret that signatures are checked against, replacing any others. */
  setSecret(secret: string): void
  /** Adds the secret of one more subscription that delivers to this receiver. */
  addSecret(secret: string): void
  /** Counts of the connections that senders opened. */
  connections(): ConnectionCounts
  /** Starts a new peak count from the connections open now. */
  resetPeakConnections(): void
  /** Every delivery received so far, in arrival order. */
  readonly deliveries: ReadonlyArray<ReceivedDelivery>
  /**
   * Resolves with the first delivery that matches `predicate`, received
   * before or after the call, or rejects after `timeoutMs`.
   */
  waitFor(predicate: (delivery: ReceivedDelivery) => boolean, timeoutMs: number): Promise<ReceivedDelivery>
  close(): Promise<void>
}

/**
 * Starts a receiver on a random loopback port. The response is 200 for a
 * delivery with a valid signature and 401 for any other, which the sender
 * does not retry. `onDelivery` runs for each delivery as it arrives.
 */
export const startReceiver = async (
  onDelivery?: (delivery: ReceivedDelivery) => void,
  options: ReceiverOptions = {}
): Promise<Receiver> => {
  let secrets: Array<string> = []
  const secretsFor = options.secretsFor ?? (() => secrets)
  const deliveries: Array<ReceivedDelivery> = []
  const waiters = new Set<(delivery: ReceivedDelivery) => void>()
  let openConnections = 0
  let peakConnections = 0
  let totalConnections = 0

  const server = createServer(async (request, response) => {
    const body = await readBody(request)
    const receivedAt = performance.now()
    const signature = String(request.headers["x-saleslab-signature"] ?? "")
    const deliveryId = String(request.headers["x-saleslab-delivery-id"] ?? "")
    const delivery: ReceivedDelivery = {
      eventKind: String(request.headers["x-saleslab-event"] ?? ""),
      deliveryId,
      signatureValid: secretsFor(deliveryId).some((secret) => verifySignature(secret, body, signature)),
      body,
      receivedAt
    }
    response.writeHead(delivery.signatureValid ? 200 : 401, { "content-type": "text/plain" })
    response.end(delivery.signatureValid ? "ok" : "invalid signature")

    deliveries.push(delivery)
    onDelivery?.(delivery)
    for (const waiter of waiters) waiter(delivery)
  })
  // Keep-alive connections would hold `close()` open until the sender drops them.
  server.keepAliveTimeout = 1_000
  server.on("connection", (socket) => {
    openConnections += 1
    totalConnections += 1
    peakConnections = Math.max(peakConnections, openConnections)
    socket.once("close", () => {
      openConnections -= 1
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo

  const waitFor = (predicate: (delivery: ReceivedDelivery) => boolean, timeoutMs: number) =>
    new Promise<ReceivedDelivery>((resolve, reject) => {
      const earlier = deliveries.find(predicate)
      if (earlier !== undefined) return resolve(earlier)
      const waiter = (delivery: ReceivedDelivery) => {
        if (!predicate(delivery)) return
        clearTimeout(timer)
        waiters.delete(waiter)
        resolve(delivery)
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(new Error(`No matching delivery arrived within ${timeoutMs} ms.`))
      }, timeoutMs)
      waiters.add(waiter)
    })

  return {
    url: `http://127.0.0.1:${port}/saleslab/webhook`,
    setSecret: (secret) => {
      secrets = [secret]
    },
    addSecret: (secret) => {
      secrets.push(secret)
    },
    connections: () => ({ open: openConnections, peak: peakConnections, total: totalConnections }),
    resetPeakConnections: () => {
      peakConnections = openConnections
    },
    deliveries,
    waitFor,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
