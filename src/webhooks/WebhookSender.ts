import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Chunk, Context, Duration, Effect, Layer, Option, Ref, Stream } from "effect"
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
  /** Fetch-based sender with the timeout of `AppConfig.deliveryTimeout`. Needs an `HttpClient`. */
  static readonly layerHttp = Layer.effect(WebhookSender, Effect.suspend(() => makeHttpSender))

  /** The fetch sender on Node's global `fetch`. */
  static readonly layer = WebhookSender.layerHttp.pipe(Layer.provide(FetchHttpClient.layer))

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

// Node's fetch (undici) keeps connections alive and pools them per origin by
// default; redirects are returned to the caller instead of being followed.
const requestInit: globalThis.RequestInit = { redirect: "manual" }

const makeHttpSender = Effect.gen(function*() {
  const config = yield* AppConfig
  // Trace propagation would add `traceparent` and similar headers, but a
  // delivery carries exactly the headers of the wire contract.
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
  const timeout = config.deliveryTimeout

  const post = (request: OutboundRequest) =>
    client.execute(
      HttpClientRequest.post(request.url).pipe(
        HttpClientRequest.setHeaders(request.headers),
        HttpClientRequest.bodyText(request.body, "application/json")
      )
    ).pipe(
      Effect.flatMap((response) =>
        Effect.map(readPrefix(response.stream, responseBodyLimit), (responseBody): SendResult => ({
          _tag: "Response",
          statusCode: response.status,
          location: response.headers["location"],
          responseBody
        }))
      ),
      Effect.catchAll((error) => Effect.succeed<SendResult>({ _tag: "ConnectionFailed", reason: describeError(error) })),
      Effect.provideService(FetchHttpClient.RequestInit, requestInit)
    )

  const send = (request: OutboundRequest) =>
    post(request).pipe(
      // Interrupting the request on timeout aborts the underlying fetch.
      Effect.timeoutTo({
        duration: timeout,
        onSuccess: (result) => result,
        onTimeout: (): SendResult => ({ _tag: "TimedOut", timeout })
      }),
      Effect.timed,
      Effect.map(([elapsed, result]) => ({ result, durationMs: Math.round(Duration.toMillis(elapsed)) }))
    )

  return { send }
})

/**
 * Reads at most `limit` bytes of a body stream and stops reading there, so a
 * huge body is never buffered. NUL characters become U+FFFD because
 * PostgreSQL text cannot store them.
 */
const readPrefix = (stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>, limit: number) =>
  stream.pipe(
    Stream.runFoldWhile(
      Chunk.empty<Uint8Array>(),
      (chunks) => totalLength(chunks) < limit,
      (chunks, bytes) => Chunk.append(chunks, bytes.subarray(0, limit - totalLength(chunks)))
    ),
    Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("utf8").replaceAll("\u0000", "\uFFFD"))
  )

const totalLength = (chunks: Chunk.Chunk<Uint8Array>) => Chunk.reduce(chunks, 0, (sum, bytes) => sum + bytes.length)

/** Returns the most specific text of a transport failure, such as `connect ECONNREFUSED 127.0.0.1:8080`. */
const describeError = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { cause?: { code?: unknown; message?: unknown }; message?: unknown } | undefined
  const inner = cause?.cause
  if (inner !== undefined && typeof inner.message === "string") {
    return typeof inner.code === "string" && !inner.message.includes(inner.code)
      ? `${inner.code}: ${inner.message}`
      : inner.message
  }
  if (cause !== undefined && typeof cause.message === "string") return cause.message
  return error.message
}

/** Returns the HTTP status of a result that got a response, or none. */
export const statusCodeOf = (result: SendResult): Option.Option<number> =>
  result._tag === "Response" ? Option.some(result.statusCode) : Option.none()
