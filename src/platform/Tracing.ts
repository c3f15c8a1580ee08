import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { FetchHttpClient, HttpClient, HttpClientError } from "@effect/platform"
import { Duration, Effect, Layer, Option, Record, Redacted } from "effect"
import { AppConfig } from "./AppConfig.ts"
import type { TracingSettings } from "./TracingConfig.ts"

/** Time one export request may take before it counts as failed. The OpenTelemetry SDKs' OTLP exporters also default to 10 s. */
const exportTimeout = Duration.seconds(10)

/** Returns the URL for log lines, without the user info and query, which may carry credentials. */
const urlForLogs = (text: string) => {
  const url = new URL(text)
  return `${url.origin}${url.pathname}`
}

/**
 * Returns the message of a failed export with the most specific cause that
 * fetch reports, such as `connect ECONNREFUSED 127.0.0.1:4318`.
 */
const describeFailure = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { cause?: { code?: unknown; message?: unknown }; message?: unknown } | undefined
  const inner = cause?.cause
  const detail = typeof inner?.message === "string" && inner.message !== ""
    ? inner.message
    : typeof inner?.code === "string"
    ? inner.code
    : cause?.message
  return typeof detail === "string" && detail !== "" ? `${error.message}: ${detail}` : error.message
}

/**
 * Builds the HTTP client of the trace exporter on top of the given client. It
 * creates no spans and sends no trace headers, so exports are never traced
 * themselves. A request without a response within `exportTimeout` fails. The
 * first failed request or non-2xx response of a streak logs one warning, and
 * the next 2xx response logs that exports work again, so a collector that is
 * down writes two log lines however many spans and retries it misses.
 */
export const makeExportClient = (tracesUrl: string) =>
  Effect.gen(function*() {
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.withTracerDisabledWhen(() => true),
      HttpClient.withTracerPropagation(false)
    )
    const annotations = { otlp_traces_url: urlForLogs(tracesUrl) }
    let failing = false

    const onFailure = (error: string) =>
      Effect.suspend(() => {
        if (failing) return Effect.void
        failing = true
        return Effect.logWarning("Trace export failed, so spans are dropped until the collector accepts an export").pipe(
          Effect.annotateLogs({ ...annotations, error })
        )
      })

    const onSuccess = Effect.suspend(() => {
      if (!failing) return Effect.void
      failing = false
      return Effect.logInfo("Trace export works again").pipe(Effect.annotateLogs(annotations))
    })

    return HttpClient.transform(client, (response, request) =>
      response.pipe(
        Effect.timeoutFail({
          duration: exportTimeout,
          onTimeout: () =>
            new HttpClientError.RequestError({
              request,
              reason: "Transport",
              description: `no response within ${Duration.format(exportTimeout)}`
            })
        }),
        Effect.tapBoth({
          onFailure: (error) => onFailure(describeFailure(error)),
          onSuccess: (response) =>
            response.status >= 200 && response.status < 300
              ? onSuccess
              : onFailure(`the collector responded with HTTP ${response.status}`)
        })
      ))
  })

/**
 * Exports every span over OTLP/HTTP with JSON bodies through
 * `@effect/opentelemetry`, without the OpenTelemetry SDK. Spans are batched
 * and sent every `exportInterval` from a fiber of their own, so an export
 * never delays the code that ended the span. After a failed export the
 * library drops new spans for one minute before it tries again. Closing the
 * layer sends the spans still buffered, waiting at most 3 seconds.
 */
export const layerOtlp = (settings: TracingSettings) => {
  const exportClient = Layer.effect(HttpClient.HttpClient, makeExportClient(settings.tracesUrl)).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
  const tracer = OtlpTracer.layer({
    url: settings.tracesUrl,
    resource: { serviceName: settings.serviceName },
    headers: Record.map(settings.headers, Redacted.value),
    exportInterval: settings.exportInterval
  }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(exportClient))
  const announce = Layer.effectDiscard(
    Effect.logInfo("Exporting traces over OTLP").pipe(Effect.annotateLogs({
      otlp_traces_url: urlForLogs(settings.tracesUrl),
      service_name: settings.serviceName,
      otlp_header_names: Object.keys(settings.headers)
    }))
  )
  return Layer.merge(tracer, announce)
}

/**
 * The OTLP trace exporter when `AppConfig.tracing` is set. Otherwise the
 * tracer is disabled: spans become no-op spans, and the delivery engine,
 * which checks with `withSpanWhenTracing` (`Spans.ts`), makes none at all.
 */
export const TracingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.match(config.tracing, {
      onNone: () => Layer.setTracerEnabled(false),
      onSome: layerOtlp
    }))
)
