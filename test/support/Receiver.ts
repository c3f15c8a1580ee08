import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** One request as the receiver saw it: raw body bytes and lower-case headers. */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** Source port of the TCP connection, to tell reused connections apart. */
  readonly remotePort: number
}

/** How the receiver responds to one request. */
export type ReceiverResponse =
  /** A normal response, sent after `delayMs` if given. */
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly body?: string | Buffer
    readonly headers?: Record<string, string>
    readonly delayMs?: number
  }
  /** No response at all. The connection stays open until the receiver stops. */
  | { readonly _tag: "Stall" }
  /** Destroy the connection without any response. */
  | { readonly _tag: "Reset" }

export const respond = (status: number, body: string | Buffer = "", delayMs?: number): ReceiverResponse => ({
  _tag: "Respond",
  status,
  body,
  ...(delayMs === undefined ? {} : { delayMs })
})
export const redirect = (status: number, location: string): ReceiverResponse => ({
  _tag: "Respond",
  status,
  headers: { location }
})
export const stall: ReceiverResponse = { _tag: "Stall" }
export const reset: ReceiverResponse = { _tag: "Reset" }

/**
 * A loopback HTTP server for delivery tests. It records every request and
 * responds from a queue of programmed responses, then with `fallback` (200
 * by default) once the queue is empty.
 */
export class Receiver extends Context.Tag("test/Receiver")<Receiver, {
  /** Base URL, such as `http://127.0.0.1:41234`. */
  readonly url: string
  /** Requests received so far, in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<ReceivedRequest>>
  /** Appends responses to the queue. */
  readonly enqueue: (...responses: ReadonlyArray<ReceiverResponse>) => Effect.Effect<void>
  /** Sets the response used once the queue is empty. */
  readonly setFallback: (response: ReceiverResponse) => Effect.Effect<void>
  /** Waits until at least `count` requests arrived, failing after `timeout`. */
  readonly awaitRequests: (
    count: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<ReceivedRequest>, Error>
}>() {
  static readonly layer = Layer.scoped(Receiver, Effect.suspend(() => makeReceiver))
}

const makeReceiver = Effect.gen(function*() {
  const received: Array<ReceivedRequest> = []
  const queue: Array<ReceiverResponse> = []
  let fallback: ReceiverResponse = respond(200, "ok")

  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      received.push({
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
        remotePort: request.socket.remotePort ?? 0
      })
      const planned = queue.shift() ?? fallback
      switch (planned._tag) {
        case "Stall":
          return
        case "Reset":
          request.socket.destroy()
          return
        case "Respond": {
          const send = () => {
            response.writeHead(planned.status, planned.headers ?? {})
            response.end(planned.body ?? "")
          }
          if (planned.delayMs === undefined) send()
          else setTimeout(send, planned.delayMs)
        }
      }
    })
  })

  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

  const requests = Effect.sync(() => [...received])
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...responses: ReadonlyArray<ReceiverResponse>) => Effect.sync(() => void queue.push(...responses)),
    setFallback: (response: ReceiverResponse) =>
      Effect.sync(() => {
        fallback = response
      }),
    awaitRequests: (count: number, timeout: Duration.DurationInput = "20 seconds") =>
      requests.pipe(
        Effect.filterOrFail(
          (all) => all.length >= count,
          (all) => new Error(`The receiver got ${all.length} of ${count} expected requests.`)
        ),
        Effect.retry(Schedule.spaced("50 millis")),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`The receiver got fewer than ${count} requests within ${Duration.format(timeout)}.`)
        })
      )
  }
})
