import { Context, Duration, Effect, Layer, Option, Ref } from "effect"
import { AppConfig } from "../platform/AppConfig.ts"
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
 * Outbound HTTP of the delivery engine. `send` has no error channel, because
 * a timeout or a network error is a `SendResult` of its own, so every attempt
 * can be recorded.
 */
export class WebhookSender extends Context.Tag("saleslab/WebhookSender")<WebhookSender, {
  readonly send: (request: OutboundRequest) => Effect.Effect<SendReport>
}>() {
  /**
   * The sender on the runtime's global `fetch` (undici on Node), with the
   * timeout of `AppConfig.deliveryTimeout`. Connections are kept alive and
   * pooled per origin by the runtime.
   */
  static readonly layer = Layer.effect(WebhookSender, Effect.suspend(() => makeFetchSender))

  /**
   * A sender for unit tests. It records every request and responds with
   * `respond(request, index)`, where `index` counts requests from 0.
   */
  static readonly layerTest = (respond: (request: OutboundRequest, index: number) => SendResult) =>
    Layer.effect(
      WebhookSender,
      Effect.map(SentRequests, (sent) => ({
        send: (request: OutboundRequest) =>
          Ref.modify(sent, (requests) => [requests.length, [...requests, request]]).pipe(
            Effect.map((index) => ({ result: respond(request, index), durationMs: 0 }))
          )
      }))
    ).pipe(Layer.provideMerge(Layer.effect(SentRequests, Ref.make<ReadonlyArray<OutboundRequest>>([]))))
}

/** Requests received by `WebhookSender.layerTest`, in order. */
export class SentRequests
  extends Context.Tag("saleslab/WebhookSender/SentRequests")<SentRequests, Ref.Ref<ReadonlyArray<OutboundRequest>>>()
{}

// The sender calls `fetch` itself rather than through `@effect/platform`'s
// `HttpClient`. Reading the response through the client's body stream cost
// two to four times the raw `fetch` per request in a loopback benchmark of
// 500 sequential POSTs (Node 20). A delivery needs only a status, one header
// and the first bytes of the body.
const makeFetchSender = Effect.gen(function*() {
  const config = yield* AppConfig
  const timeout = config.deliveryTimeout
  const timeoutMs = Duration.toMillis(timeout)

  /**
   * Sends one request and reads the start of its response. A timer of its
   * own aborts the request or the body read at the timeout, which spares
   * each attempt a timeout fiber. Interruption aborts it as well.
   */
  const post = (request: OutboundRequest) =>
    Effect.async<SendResult>((resume) => {
      const controller = new AbortController()
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        controller.abort()
      }, timeoutMs)
      fetchPrefix(request, controller.signal).then(
        (result) => resume(Effect.succeed(result)),
        (cause: unknown) =>
          resume(Effect.succeed(
            timedOut ? { _tag: "TimedOut", timeout } : { _tag: "ConnectionFailed", reason: describeError(cause) }
          ))
      ).finally(() => clearTimeout(timer))
      return Effect.sync(() => {
        clearTimeout(timer)
        controller.abort()
      })
    })

  const send = (request: OutboundRequest) =>
    post(request).pipe(
      Effect.timed,
      Effect.map(([elapsed, result]) => ({ result, durationMs: Math.round(Duration.toMillis(elapsed)) }))
    )

  return { send }
})

/** POSTs `request` without following a redirect, and reads the status, `Location` and the body's first bytes. */
const fetchPrefix = async (request: OutboundRequest, signal: AbortSignal): Promise<SendResult> => {
  const response = await fetch(request.url, {
    method: "POST",
    headers: request.headers,
    body: request.body,
    // A redirect is a result of its own, never followed.
    redirect: "manual",
    signal
  })
  const responseBody = await readPrefix(response, responseBodyLimit)
  return {
    _tag: "Response",
    statusCode: response.status,
    location: response.headers.get("location") ?? undefined,
    responseBody
  }
}

/**
 * Reads at most `limit` bytes of a response body and cancels the rest, so a
 * huge body is never buffered. NUL characters become U+FFFD because
 * PostgreSQL text cannot store them. Bytes cut in the middle of a UTF-8
 * sequence also become U+FFFD.
 */
const readPrefix = async (response: Response, limit: number): Promise<string> => {
  if (response.body === null) return ""
  const reader = response.body.getReader()
  const chunks: Array<Uint8Array> = []
  let length = 0
  while (length < limit) {
    const { done, value } = await reader.read()
    if (done) break
    const kept = value.subarray(0, limit - length)
    chunks.push(kept)
    length += kept.length
  }
  if (length >= limit) await reader.cancel().catch(() => undefined)
  return Buffer.concat(chunks).toString("utf8").replaceAll("\u0000", "\uFFFD")
}

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
