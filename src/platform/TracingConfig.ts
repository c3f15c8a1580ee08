import { Config, ConfigError, Duration, Either, Option, Redacted } from "effect"

/** Trace export over OTLP/HTTP, read from the standard OpenTelemetry environment variables. */
export interface TracingSettings {
  /** Full URL that receives the exports, such as `http://127.0.0.1:4318/v1/traces`. */
  readonly tracesUrl: string
  /** `service.name` of the exported spans. */
  readonly serviceName: string
  /** Headers added to every export request, such as a collector's API key. */
  readonly headers: Readonly<Record<string, Redacted.Redacted>>
  /** Interval between two exports of the spans that ended meanwhile. */
  readonly exportInterval: Duration.Duration
}

/** `service.name` of the exported spans when `OTEL_SERVICE_NAME` is unset. */
export const defaultServiceName = "saleslab-platform"

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS`: comma-separated `name=value` pairs,
 * each value percent-decoded, as the OpenTelemetry specification defines the
 * variable. Empty entries are skipped. Error messages name the header but
 * never contain a value, because values are usually credentials.
 */
export const parseOtlpHeaders = (text: string): Either.Either<Record<string, Redacted.Redacted>, string> => {
  const headers: Record<string, Redacted.Redacted> = {}
  const entries = text.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  for (const [index, entry] of entries.entries()) {
    const separator = entry.indexOf("=")
    if (separator <= 0) {
      return Either.left(`entry ${index + 1} is not of the form name=value`)
    }
    const name = entry.slice(0, separator).trim().toLowerCase()
    if (!headerName.test(name)) {
      return Either.left(`entry ${index + 1} has an invalid header name`)
    }
    try {
      headers[name] = Redacted.make(decodeURIComponent(entry.slice(separator + 1).trim()))
    } catch {
      return Either.left(`the value of header ${name} is not valid percent-encoding`)
    }
  }
  return Either.right(headers)
}

/**
 * Returns the URL that receives trace exports: the traces endpoint as given,
 * or `v1/traces` under the base endpoint, as the OpenTelemetry specification
 * resolves the two variables. None when neither is set.
 */
export const resolveTracesUrl = (
  tracesEndpoint: Option.Option<string>,
  endpoint: Option.Option<string>
): Either.Either<Option.Option<string>, ConfigError.ConfigError> => {
  if (Option.isSome(tracesEndpoint)) {
    return Either.map(parseHttpUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracesEndpoint.value), (url) => Option.some(url.href))
  }
  if (Option.isSome(endpoint)) {
    return Either.map(parseHttpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.value), (url) => {
      url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`
      return Option.some(url.href)
    })
  }
  return Either.right(Option.none())
}

const parseHttpUrl = (variable: string, text: string): Either.Either<URL, ConfigError.ConfigError> => {
  const invalid = ConfigError.InvalidData(
    [variable],
    `must be an http or https URL such as http://127.0.0.1:4318, not '${text}'`
  )
  if (!URL.canParse(text)) return Either.left(invalid)
  const url = new URL(text)
  return url.protocol === "http:" || url.protocol === "https:" ? Either.right(url) : Either.left(invalid)
}

/** A string setting where an empty value counts as unset, as OpenTelemetry SDKs treat them. */
const optionalString = (name: string, description: string) =>
  Config.string(name).pipe(
    Config.option,
    Config.map(Option.filter((value) => value.trim() !== "")),
    Config.map(Option.map((value) => value.trim())),
    Config.withDescription(description)
  )

/** Trace export settings: none, so that nothing is exported, unless an OTLP endpoint variable is set. */
export const tracingConfig: Config.Config<Option.Option<TracingSettings>> = Config.all({
  tracesEndpoint: optionalString(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "Full URL that receives trace exports (OTLP/HTTP JSON). Takes precedence over OTEL_EXPORTER_OTLP_ENDPOINT."
  ),
  endpoint: optionalString(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "Base URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318; traces go to /v1/traces under it. Unset: no export."
  ),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(
    Config.withDefault(defaultServiceName),
    Config.withDescription("service.name of the exported spans.")
  ),
  headers: Config.redacted("OTEL_EXPORTER_OTLP_HEADERS").pipe(
    Config.option,
    Config.withDescription("Headers of every export request, as name=value pairs separated by commas.")
  ),
  // Validated before the default is applied, so that the error names the variable.
  exportIntervalMillis: Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(
    Config.validate({ message: "must be at least 1 (milliseconds)", validation: (millis) => millis >= 1 }),
    Config.withDefault(5000),
    Config.withDescription("Milliseconds between two trace exports.")
  )
}).pipe(
  Config.mapOrFail((raw) =>
    Either.flatMap(resolveTracesUrl(raw.tracesEndpoint, raw.endpoint), (tracesUrl) => {
      if (Option.isNone(tracesUrl)) return Either.right(Option.none())
      const headers = Option.match(raw.headers, {
        onNone: () => Either.right({}),
        onSome: (text) => parseOtlpHeaders(Redacted.value(text))
      })
      return Either.match(headers, {
        onLeft: (message) => Either.left(ConfigError.InvalidData(["OTEL_EXPORTER_OTLP_HEADERS"], message)),
        onRight: (parsed) =>
          Either.right(Option.some<TracingSettings>({
            tracesUrl: tracesUrl.value,
            serviceName: raw.serviceName,
            headers: parsed,
            exportInterval: Duration.millis(raw.exportIntervalMillis)
          }))
      })
    })
  )
)
