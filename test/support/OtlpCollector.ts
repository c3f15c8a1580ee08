import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** One span of an OTLP/HTTP JSON export, with its attributes as a plain record. */
export interface ExportedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly startTimeUnixNano: bigint
  readonly attributes: Readonly<Record<string, unknown>>
  /** Attributes of the resource that sent the span, such as `service.name`. */
  readonly resource: Readonly<Record<string, unknown>>
}

/** One export request as the collector saw it. */
export interface ExportRequest {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly spans: ReadonlyArray<ExportedSpan>
}

interface OtlpAttribute {
  readonly key: string
  readonly value: Readonly<Record<string, unknown>>
}

const attributeRecord = (attributes: ReadonlyArray<OtlpAttribute> | undefined) =>
  Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, Object.values(value)[0]]))

/** Flattens the spans of an `ExportTraceServiceRequest` in its JSON encoding. */
const spansOf = (body: string): ReadonlyArray<ExportedSpan> => {
  const request = JSON.parse(body) as {
    resourceSpans: ReadonlyArray<{
      resource: { attributes: ReadonlyArray<OtlpAttribute> }
      scopeSpans: ReadonlyArray<{
        spans: ReadonlyArray<{
          traceId: string
          spanId: string
          parentSpanId?: string
          name: string
          startTimeUnixNano: string
          attributes: ReadonlyArray<OtlpAttribute>
        }>
      }>
    }>
  }
  return request.resourceSpans.flatMap((resourceSpans) =>
    resourceSpans.scopeSpans.flatMap((scopeSpans) =>
      scopeSpans.spans.map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId,
        name: span.name,
        startTimeUnixNano: BigInt(span.startTimeUnixNano),
        attributes: attributeRecord(span.attributes),
        resource: attributeRecord(resourceSpans.resource.attributes)
      }))
    )
  )
}

/**
 * A fake OpenTelemetry collector on 127.0.0.1 for trace export tests. It
 * parses every OTLP/HTTP JSON export and responds with the next status of
 * its queue, or 200 once the queue is empty. After `setStalled(true)`, it
 * accepts requests and never responds.
 */
export class OtlpCollector extends Context.Tag("test/OtlpCollector")<OtlpCollector, {
  /** Base URL, such as `http://127.0.0.1:41234`. Exports go to `/v1/traces` under it. */
  readonly url: string
  /** Export requests received so far, in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<ExportRequest>>
  /** Every span received so far. */
  readonly spans: Effect.Effect<ReadonlyArray<ExportedSpan>>
  /** Appends response statuses to the queue. */
  readonly respondWith: (...statuses: ReadonlyArray<number>) => Effect.Effect<void>
  /** Sets whether requests stay without a response. */
  readonly setStalled: (stalled: boolean) => Effect.Effect<void>
  /** Waits until the spans received satisfy `predicate`, failing after `timeout`. */
  readonly awaitSpans: (
    predicate: (spans: ReadonlyArray<ExportedSpan>) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<ExportedSpan>, Error>
}>() {
  static readonly layer = Layer.scoped(OtlpCollector, Effect.suspend(() => makeCollector))
}

const makeCollector = Effect.gen(function*() {
  const received: Array<ExportRequest> = []
  const statuses: Array<number> = []
  let stalled = false

  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        headers: request.headers,
        spans: spansOf(Buffer.concat(chunks).toString("utf8"))
      })
      if (stalled) return
      response.writeHead(statuses.shift() ?? 200, { "content-type": "application/json" })
      response.end("{}")
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
  const spans = Effect.map(requests, (all) => all.flatMap((request) => request.spans))
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans,
    respondWith: (...next: ReadonlyArray<number>) => Effect.sync(() => void statuses.push(...next)),
    setStalled: (value: boolean) =>
      Effect.sync(() => {
        stalled = value
      }),
    awaitSpans: (predicate: (spans: ReadonlyArray<ExportedSpan>) => boolean, timeout: Duration.DurationInput = "15 seconds") =>
      spans.pipe(
        Effect.filterOrFail(predicate, (all) => new Error(`The collector's ${all.length} spans never matched.`)),
        Effect.retry(Schedule.spaced("50 millis")),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`The collector did not receive the expected spans within ${Duration.format(timeout)}.`)
        })
      )
  }
})

/** Returns a loopback URL where nothing listens: a port that was bound and closed again. */
export const closedPortUrl = Effect.async<string>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})
