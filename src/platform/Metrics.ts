import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Metric, MetricBoundaries, MetricKeyType, type MetricLabel, MetricState, Option } from "effect"
import type { MetricPair } from "effect"

// Metrics of the delivery engine. They live in Effect's global metric
// registry, so each runner exposes only what it recorded itself.

/** Finished delivery attempts, tagged with `event_kind` and `outcome` (`succeeded`, `retry` or `failed`). */
export const webhookAttempts = Metric.counter("saleslab_webhook_attempts", {
  description: "Delivery attempts recorded, by event kind and outcome (succeeded, retry, failed).",
  incremental: true
})

/** Duration of one HTTP delivery attempt in seconds, 5 ms to 10 s. */
export const webhookAttemptDuration = Metric.histogram(
  "saleslab_webhook_attempt_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "Duration of one delivery attempt, from sending the request to the judged result, in seconds."
)

/** Time from an event's `event_at` to its successful delivery in seconds, 10 ms to 1 hour. */
export const webhookDeliveryLag = Metric.histogram(
  "saleslab_webhook_delivery_lag_seconds",
  MetricBoundaries.fromIterable([0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600]),
  "Time from the event to the attempt that delivered it successfully, in seconds."
)

/** Retries written to the queue after a retryable failure. */
export const webhookRetriesScheduled = Metric.counter("saleslab_webhook_retries_scheduled", {
  description: "Retries scheduled after a retryable delivery failure.",
  incremental: true
})

/** Sweeps run by this runner. */
export const webhookSweeps = Metric.counter("saleslab_webhook_sweeps", {
  description: "Delivery sweeps run.",
  incremental: true
})

/** Subscriptions woken by sweeps. */
export const webhookSweepWokenSubscriptions = Metric.counter("saleslab_webhook_sweep_woken_subscriptions", {
  description: "Subscriptions with due deliveries woken by a sweep.",
  incremental: true
})

/** Notifications on the delivery LISTEN connection that woke a subscription, not counting probes. */
export const webhookListenNotifications = Metric.counter("saleslab_webhook_listen_notifications", {
  description: "Notifications received on the delivery LISTEN connection that woke a subscription.",
  incremental: true
})

/**
 * Pending deliveries that are due, of the subscriptions whose shards this
 * runner holds, refreshed every sweep interval and tagged with `runner`.
 */
export const webhookQueueDepth = Metric.gauge("saleslab_webhook_queue_depth", {
  description: "Due pending deliveries of the active subscriptions this runner works, as of its last measurement."
})

/**
 * Age in seconds of the oldest due delivery of the subscriptions whose shards
 * this runner holds, tagged with `runner`; 0 when none is due.
 */
export const webhookOldestDueAge = Metric.gauge("saleslab_webhook_oldest_due_age_seconds", {
  description: "Seconds since the oldest due delivery of the subscriptions this runner works became due, " +
    "as of its last measurement; 0 when none is due."
})

/** Content type of the Prometheus text exposition format, version 0.0.4. */
export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

/** Replaces every character that a Prometheus metric name may not contain with `_`. */
export const sanitizeMetricName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced
}

/**
 * Replaces every character that a Prometheus label name may not contain with
 * `_`. Names starting with `__` are reserved by Prometheus, so they get an
 * `x` in front.
 */
export const sanitizeLabelName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_]/g, "_")
  if (replaced === "" || /^[0-9]/.test(replaced)) return `_${replaced}`
  return replaced.startsWith("__") ? `x${replaced}` : replaced
}

/** Escapes a label value: backslash, double quote and line feed. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/** Escapes `# HELP` text: backslash and line feed. */
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** Formats a sample value, with `+Inf`, `-Inf` and `NaN` as the format spells them. */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

type Labels = ReadonlyArray<readonly [string, string]>

const formatLabels = (labels: Labels): string =>
  labels.length === 0
    ? ""
    : `{${labels.map(([name, value]) => `${sanitizeLabelName(name)}="${escapeLabelValue(value)}"`).join(",")}}`

const sample = (name: string, labels: Labels, value: number | bigint) =>
  `${name}${formatLabels(labels)} ${formatValue(value)}`

interface Family {
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: Option.Option<string>
  readonly samples: Array<string>
}

/** Returns the family name and type of a metric key, such as `x_total` and `counter` for the counter `x`. */
const familyOf = (pair: MetricPair.MetricPair.Untyped): { name: string; type: Family["type"] } => {
  const base = sanitizeMetricName(pair.metricKey.name)
  const keyType = pair.metricKey.keyType
  if (MetricKeyType.isCounterKey(keyType) || MetricKeyType.isFrequencyKey(keyType)) {
    return { name: base.endsWith("_total") ? base : `${base}_total`, type: "counter" }
  }
  if (MetricKeyType.isHistogramKey(keyType)) return { name: base, type: "histogram" }
  if (MetricKeyType.isSummaryKey(keyType)) return { name: base, type: "summary" }
  return { name: base, type: "gauge" }
}

/** Formats the sample lines of one metric key with its tags. */
const samplesOf = (name: string, labels: Labels, state: MetricState.MetricState.Untyped): Array<string> => {
  if (MetricState.isCounterState(state)) return [sample(name, labels, state.count)]
  if (MetricState.isGaugeState(state)) return [sample(name, labels, state.value)]
  if (MetricState.isFrequencyState(state)) {
    return [...state.occurrences].map(([key, count]) => sample(name, [...labels, ["key", key]], count))
  }
  if (MetricState.isHistogramState(state)) {
    // Effect's histogram state already contains cumulative counts per upper
    // bound. The boundaries always end with +Inf, but the +Inf bucket is
    // written from `count` so that it is present whatever the boundaries are.
    const finite = state.buckets.filter(([bound]) => Number.isFinite(bound))
    return [
      ...finite.map(([bound, count]) => sample(`${name}_bucket`, [...labels, ["le", formatValue(bound)]], count)),
      sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count),
      sample(`${name}_sum`, labels, state.sum),
      sample(`${name}_count`, labels, state.count)
    ]
  }
  if (MetricState.isSummaryState(state)) {
    return [
      ...state.quantiles.map(([quantile, value]) =>
        sample(name, [...labels, ["quantile", formatValue(quantile)]], Option.getOrElse(value, () => Number.NaN))
      ),
      sample(`${name}_sum`, labels, state.sum),
      sample(`${name}_count`, labels, state.count)
    ]
  }
  return []
}

/**
 * Renders metric pairs in the Prometheus text exposition format 0.0.4. Each
 * family gets one `# HELP` and `# TYPE` header followed by all its samples.
 * Families and samples are sorted, so the output is stable. Counters get the
 * `_total` suffix, and frequencies are written as counters with a `key` label.
 */
export const renderPrometheus = (pairs: Iterable<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const { name, type } = familyOf(pair)
    const labels: Labels = pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    let family = families.get(name)
    if (family === undefined) {
      family = { type, help: pair.metricKey.description, samples: [] }
      families.set(name, family)
    }
    // NOTE: two metrics of different types whose names map to the same family
    // name would produce an invalid family; the later type's samples are dropped.
    if (family.type !== type) continue
    family.samples.push(...samplesOf(name, labels, pair.metricState))
  }

  const lines: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!
    if (Option.isSome(family.help)) lines.push(`# HELP ${name} ${escapeHelp(family.help.value)}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    lines.push(...family.samples.sort(compareSamples))
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/** Orders samples by label set while keeping the buckets of one series in bound order. */
const compareSamples = (a: string, b: string): number => {
  const keyA = seriesKey(a)
  const keyB = seriesKey(b)
  if (keyA < keyB) return -1
  if (keyA > keyB) return 1
  return 0
}

// A histogram's bucket lines differ only in `le`, and their written order is
// already by bound, so they compare on the rest of the line and Array.sort,
// which is stable, keeps them in place.
const seriesKey = (line: string): string => line.slice(0, line.lastIndexOf(" ")).replace(/,?le="[^"]*"/, "")

/** A metric of any type, which reads its value (and so enters the registry) with `unsafeValue`. */
interface RegistrableMetric {
  readonly unsafeValue: (extraTags: ReadonlyArray<MetricLabel.MetricLabel>) => unknown
}

/**
 * The delivery engine's metrics that have no labels. They are registered
 * before their first update, so that `/metrics` lists each of them from the
 * start: counters at 0 and histograms with no observations.
 */
export const unlabeledMetrics: ReadonlyArray<RegistrableMetric> = [
  webhookAttemptDuration,
  webhookDeliveryLag,
  webhookRetriesScheduled,
  webhookSweeps,
  webhookSweepWokenSubscriptions,
  webhookListenNotifications
]

/** Adds `metrics` to the global registry without changing their values. */
export const registerMetrics = (metrics: ReadonlyArray<RegistrableMetric>) =>
  Effect.sync(() => {
    for (const metric of metrics) metric.unsafeValue([])
  })

/** Renders the whole global metric registry in the Prometheus text format. */
export const renderRegistry = Effect.zipRight(registerMetrics(unlabeledMetrics), Effect.map(Metric.snapshot, renderPrometheus))

/**
 * Serves `GET /metrics` outside the HTTP API, so it needs no token and does
 * not appear in `/openapi.json`. It belongs on an internal network or behind
 * an allow-list, because it shows delivery volumes of all tenants together.
 */
export const MetricsRouteLive = HttpApiBuilder.Router.use((router) =>
  router.get(
    "/metrics",
    Effect.map(renderRegistry, (text) =>
      HttpServerResponse.text(text, { contentType: prometheusContentType }))
  )
)
