import { Context, Duration, Effect, Layer, Option, Ref } from "effect"
import http from "node:http"
import https from "node:https"
import net from "node:net"
import { AppConfig } from "../platform/AppConfig.ts"
import { isPrivateAddress, makePublicOnlyLookup, PrivateTargetError } from "./PrivateTargets.ts"
import type { SendResult } from "./RetryPolicy.ts"

/** Bytes of a response body that are read and kept; the rest is never read. */
export const responseBodyLimit = 4096

/** One outbound POST of a delivery. */
export interface OutboundRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** The stored body, sent as its UTF-8 bytes. */
  readonly body: string
}

/** Result of one POST and its duration in whole milliseconds. */
export interface SendReport {
  readonly result: SendResult
  readonly durationMs: number
}

/**
 * Outbound HTTP of the delivery engine. `send` returns a promise that never
 * rejects, because a timeout or a network error is a `SendResult` of its
 * own, so every attempt can be recorded. It is a promise, not an effect,
 * because the attempts of a batch run outside fibers (`Delivery`).
 */
export class WebhookSender extends Context.Tag("saleslab/WebhookSender")<WebhookSender, {
  readonly send: (request: OutboundRequest) => Promise<SendReport>
}>() {
  /**
   * The sender on `node:http` and `node:https` (`postForPrefix`), with the
   * timeout of `AppConfig.deliveryTimeout`. Connections are kept alive and
   * pooled per host and port. Unless `AppConfig.allowPrivateTargets`, it
   * connects to public addresses only (`publicTargetsOnly`).
   */
  static readonly layer = Layer.effect(WebhookSender, Effect.suspend(() => makeHttpSender))

  /**
   * A sender for unit tests. It records every request and responds with
   * `respond(request, index)`, where `index` counts requests from 0.
   */
  static readonly layerTest = (respond: (request: OutboundRequest, index: number) => SendResult) =>
    Layer.effect(
      WebhookSender,
      Effect.map(SentRequests, (sent) => ({
        send: (request: OutboundRequest) => {
          const index = Effect.runSync(Ref.modify(sent, (requests) => [requests.length, [...requests, request]]))
          return Promise.resolve({ result: respond(request, index), durationMs: 0 })
        }
      }))
    ).pipe(Layer.provideMerge(Layer.effect(SentRequests, Ref.make<ReadonlyArray<OutboundRequest>>([]))))
}

/** Requests received by `WebhookSender.layerTest`, in order. */
export class SentRequests
  extends Context.Tag("saleslab/WebhookSender/SentRequests")<SentRequests, Ref.Ref<ReadonlyArray<OutboundRequest>>>()
{}

// The sender uses `node:http` rather than the global `fetch` (undici) or
// `@effect/platform`'s `HttpClient`. In a loopback benchmark of 20,000 POSTs
// (Node 20, 8 in flight), `fetch` cost 325 µs of CPU per request against 76 µs.
// Weak references hold its response streams, and V8's young-generation
// collector keeps such objects alive, so 18 KB per request moved into the old
// generation against 0.5 KB. Under steady load, full collections then paused
// deliveries every few seconds, and the RSS grew.
const makeHttpSender = Effect.gen(function*() {
  const config = yield* AppConfig
  const timeout = config.deliveryTimeout
  const timeoutMs = Duration.toMillis(timeout)
  const targets = config.allowPrivateTargets ? undefined : publicTargetsOnly

  /** Sends one request, reads the start of its response and times the whole on the monotonic clock. */
  const send = (request: OutboundRequest): Promise<SendReport> => {
    const startedAt = performance.now()
    const report = (result: SendResult): SendReport => ({ result, durationMs: Math.round(performance.now() - startedAt) })
    return postForPrefix(request, timeoutMs, targets).then(report, (cause: unknown) => {
      if (cause instanceof PostTimedOut) return report({ _tag: "TimedOut", timeout })
      if (cause instanceof PrivateTargetError) return report({ _tag: "Blocked", reason: cause.message })
      return report({ _tag: "ConnectionFailed", reason: describeError(cause) })
    })
  }

  return { send }
})

/**
 * Idle connections are closed after this long, so a connection is rarely
 * reused just as the receiver closes it. Node's own HTTP server keeps idle
 * connections for 5 s.
 */
const idleConnectionTimeoutMs = 4_000

/** Keep-alive connection pools, one per protocol, each pooling connections per host and port. */
const httpAgent = new http.Agent({ keepAlive: true, timeout: idleConnectionTimeoutMs, scheduling: "lifo" })
const httpsAgent = new https.Agent({ keepAlive: true, timeout: idleConnectionTimeoutMs, scheduling: "lifo" })

/** Filter of the addresses that `postForPrefix` connects to. */
export interface TargetFilter {
  /** Whether an IP address in the URL itself may be connected to. */
  readonly allowsAddress: (address: string) => boolean
  /** Resolves a host name to the addresses that may be connected to, as `dns.lookup` does. */
  readonly lookup: http.RequestOptions["lookup"]
}

/**
 * Connects to public addresses only: an IP address in the URL must be
 * public, and a host name is resolved to its public addresses, failing when
 * it has none. The check runs where the connection is made, so a DNS
 * answer that changed since the subscription was saved cannot reach a
 * private address.
 */
export const publicTargetsOnly: TargetFilter = {
  allowsAddress: (address) => !isPrivateAddress(address),
  lookup: makePublicOnlyLookup()
}

/** Error with which `postForPrefix` rejects when the whole response has not arrived within its timeout. */
export class PostTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`)
  }
}

/** Request options of a URL without its method and headers, for `http.request`. */
interface Destination {
  readonly secure: boolean
  readonly hostname: string
  readonly port: string
  readonly path: string
  readonly auth: string | undefined
}

/**
 * Parsed destinations by URL text. A runner sends to a few URLs many times
 * over, and parsing each one again took a share of every request. Bounded,
 * so that many distinct URLs cannot grow it: past the bound, it starts over.
 */
const destinations = new Map<string, Destination>()
const destinationsKept = 10_000

const destinationOf = (urlText: string): Destination => {
  const known = destinations.get(urlText)
  if (known !== undefined) return known
  const url = new URL(urlText)
  const destination: Destination = {
    secure: url.protocol === "https:",
    // `http.request` takes an IPv6 address without its brackets.
    hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    auth: url.username === "" && url.password === ""
      ? undefined
      : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
  }
  if (destinations.size >= destinationsKept) destinations.clear()
  destinations.set(urlText, destination)
  return destination
}

/**
 * POSTs `request` over a pooled keep-alive connection. Resolves with the
 * status, the `Location` header and the first `responseBodyLimit` bytes of
 * the body. A longer body is cut off by closing the connection. NUL
 * characters become U+FFFD because PostgreSQL text cannot store them, and
 * so do bytes cut in the middle of a UTF-8 sequence. Redirects are never
 * followed. Rejects when the connection fails or the body ends early, and
 * with `PostTimedOut`, closing the connection, when the whole response has
 * not arrived within `timeoutMs`. With `targets`, it connects only to the
 * addresses that filter allows, and rejects with `PrivateTargetError`
 * otherwise. The benchmark scripts post their baseline requests with it
 * too, so that the engine and its baseline use the same client.
 */
export const postForPrefix = (request: OutboundRequest, timeoutMs: number, targets?: TargetFilter): Promise<SendResult> =>
  new Promise((resolve, reject) => {
    const destination = destinationOf(request.url)
    // An IP address in the URL is connected to without a lookup, so it is checked here.
    if (targets !== undefined && net.isIP(destination.hostname) !== 0 && !targets.allowsAddress(destination.hostname)) {
      reject(new PrivateTargetError(destination.hostname, [destination.hostname]))
      return
    }
    // Set once the request exists, so a request that throws while it is built arms no timer.
    let timer: ReturnType<typeof setTimeout> | undefined
    let settled = false
    const settle = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      outcome()
    }
    const outgoing = (destination.secure ? https : http).request({
      method: "POST",
      protocol: destination.secure ? "https:" : "http:",
      hostname: destination.hostname,
      port: destination.port,
      path: destination.path,
      auth: destination.auth,
      agent: destination.secure ? httpsAgent : httpAgent,
      // Without a filter the lookup is undefined, which is the system resolver.
      lookup: targets?.lookup,
      headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body, "utf8")) }
    }, (response) => {
      const chunks: Array<Buffer> = []
      let length = 0
      const finish = () =>
        settle(() =>
          resolve({
            _tag: "Response",
            statusCode: response.statusCode ?? 0,
            location: response.headers.location,
            responseBody: Buffer.concat(chunks).toString("utf8").replaceAll("\u0000", "\uFFFD")
          })
        )
      // A body that ends early is reported with the status, which the rejection would otherwise lose.
      const fail = (cause: unknown) =>
        settle(() => {
          const detail = cause instanceof Error && cause.message !== "" ? ` (${cause.message})` : ""
          reject(new Error(`the connection closed after the status line (HTTP ${response.statusCode}), before the body ended${detail}`))
        })
      response.on("data", (chunk: Buffer) => {
        if (settled) return
        const head = chunk.subarray(0, responseBodyLimit - length)
        chunks.push(head)
        length += head.length
        if (length >= responseBodyLimit) {
          finish()
          response.destroy()
        }
      })
      response.on("end", finish)
      response.on("error", fail)
      // "close" also follows "end", so the error is built only when nothing has settled.
      response.on("close", () => {
        if (!settled) fail(undefined)
      })
    })
    timer = setTimeout(() => {
      settle(() => reject(new PostTimedOut(timeoutMs)))
      outgoing.destroy()
    }, timeoutMs)
    outgoing.on("error", (error) => settle(() => reject(error)))
    // A string body goes out in one write with the header block, where a
    // buffer would take a second one (Node 20's `OutgoingMessage`).
    outgoing.end(request.body, "utf8")
  })

/** Returns the most specific text of a transport failure, such as `connect ECONNREFUSED 127.0.0.1:8080`. */
const describeError = (error: unknown): string => {
  const outer = error as { cause?: { code?: unknown; message?: unknown }; message?: unknown } | undefined
  const inner = outer?.cause
  if (inner !== undefined && typeof inner.message === "string") {
    return typeof inner.code === "string" && !inner.message.includes(inner.code)
      ? `${inner.code}: ${inner.message}`
      : inner.message
  }
  if (outer !== undefined && typeof outer.message === "string") return outer.message
  return String(error)
}

/** Returns the HTTP status of a result that got a response, or none. */
export const statusCodeOf = (result: SendResult): Option.Option<number> =>
  result._tag === "Response" ? Option.some(result.statusCode) : Option.none()
