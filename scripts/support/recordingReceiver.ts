/**
 * A fast webhook receiver for the fault trials and benchmarks: it records
 * the delivery id and arrival time of every request, checks no signature,
 * and returns 200 after a delay that the caller sets.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** One request as the receiver got it. */
export interface Arrival {
  readonly deliveryId: string
  /** `Date.now()` when the whole body had arrived, in milliseconds. */
  readonly at: number
}

/** Options of `startRecordingReceiver`. */
export interface RecordingReceiverOptions {
  /** The receiver responds 200 after a uniformly random delay from 0 to this many milliseconds. */
  readonly maxDelayMs: number
  /**
   * Returns the key whose requests in flight are counted, such as the
   * subscription id in a delivery id. Without it nothing is counted.
   */
  readonly inFlightKey?: (deliveryId: string) => string
}

/** A receiver on 127.0.0.1 that records every request. */
export interface RecordingReceiver {
  readonly url: string
  /** Every request so far, in arrival order, duplicates included. */
  readonly arrivals: ReadonlyArray<Arrival>
  /** Sets a fixed response delay in milliseconds, or with undefined goes back to the random one. */
  setDelay(delayMs: number | undefined): void
  /**
   * The maximum number of requests of one `inFlightKey` that the receiver
   * held at once, from the arrival of the body until the response was sent
   * or the connection closed.
   */
  maxInFlightPerKey(): number
  close(): Promise<void>
}

/** Starts a recording receiver on a random port of 127.0.0.1. */
export const startRecordingReceiver = async (options: RecordingReceiverOptions): Promise<RecordingReceiver> => {
  const arrivals: Array<Arrival> = []
  const inFlight = new Map<string, number>()
  let maxInFlight = 0
  let fixedDelayMs: number | undefined

  const server = createServer((request, response) => {
    request.resume()
    request.on("end", () => {
      const deliveryId = String(request.headers["x-saleslab-delivery-id"] ?? "")
      arrivals.push({ deliveryId, at: Date.now() })

      const key = options.inFlightKey?.(deliveryId)
      let counted = key !== undefined
      if (key !== undefined) {
        const count = (inFlight.get(key) ?? 0) + 1
        inFlight.set(key, count)
        maxInFlight = Math.max(maxInFlight, count)
      }
      const done = () => {
        if (!counted || key === undefined) return
        counted = false
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1)
      }
      // A sender that dies closes the connection before the response is sent.
      response.once("close", done)
      setTimeout(() => {
        done()
        response.writeHead(200, { "content-type": "text/plain" })
        response.end("ok")
      }, fixedDelayMs ?? Math.random() * options.maxDelayMs)
    })
  })
  server.keepAliveTimeout = 1_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/saleslab/webhook`,
    arrivals,
    setDelay: (delayMs) => {
      fixedDelayMs = delayMs
    },
    maxInFlightPerKey: () => maxInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
