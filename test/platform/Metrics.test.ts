import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import { randomUUID } from "node:crypto"
import {
  escapeLabelValue,
  formatValue,
  registerMetrics,
  renderPrometheus,
  renderRegistry,
  sanitizeLabelName,
  sanitizeMetricName
} from "../../src/platform/Metrics.ts"

/** A metric name no other test uses, because the metric registry is global. */
const uniqueName = (base: string) => `test_${base}_${randomUUID().replaceAll("-", "")}`

/** Renders only the metrics whose name starts with `prefix`. */
const renderPrefixed = (prefix: string) =>
  Effect.map(Metric.snapshot, (pairs) => renderPrometheus(pairs.filter((pair) => pair.metricKey.name.startsWith(prefix))))

const linesOf = (text: string) => text.trimEnd().split("\n")

describe("Metrics rendering", () => {
  it("label value escaping", () => {
    expect(escapeLabelValue("plain")).toBe("plain")
    expect(escapeLabelValue("a\"b")).toBe("a\\\"b")
    expect(escapeLabelValue("a\\b")).toBe("a\\\\b")
    expect(escapeLabelValue("a\nb")).toBe("a\\nb")
    expect(escapeLabelValue("\\\"\n")).toBe("\\\\\\\"\\n")
  })

  it("metric and label names sanitized", () => {
    expect(sanitizeMetricName("saleslab_ok:name")).toBe("saleslab_ok:name")
    expect(sanitizeMetricName("effect.cluster-entities")).toBe("effect_cluster_entities")
    expect(sanitizeMetricName("9lives")).toBe("_9lives")
    expect(sanitizeLabelName("event_kind")).toBe("event_kind")
    expect(sanitizeLabelName("event.kind")).toBe("event_kind")
    expect(sanitizeLabelName("a:b")).toBe("a_b")
    expect(sanitizeLabelName("1st")).toBe("_1st")
    expect(sanitizeLabelName("__name__")).toBe("x__name__")
    expect(sanitizeLabelName("")).toBe("_")
  })

  it("special values formatted", () => {
    expect(formatValue(1.5)).toBe("1.5")
    expect(formatValue(0.005)).toBe("0.005")
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe("+Inf")
    expect(formatValue(Number.NEGATIVE_INFINITY)).toBe("-Inf")
    expect(formatValue(Number.NaN)).toBe("NaN")
    expect(formatValue(12n)).toBe("12")
  })

  it.effect("counter gets _total, help and escaped labels", () =>
    Effect.gen(function*() {
      const name = uniqueName("deliveries")
      const counter = Metric.counter(name, { description: "Deliveries.\nSecond line with \\ backslash." })
      yield* Metric.incrementBy(Metric.tagged(counter, "kind", "say \"hi\"\n"), 3)
      yield* Metric.increment(Metric.tagged(counter, "kind", "plain"))

      const lines = linesOf(yield* renderPrefixed(name))

      expect(lines).toEqual([
        `# HELP ${name}_total Deliveries.\\nSecond line with \\\\ backslash.`,
        `# TYPE ${name}_total counter`,
        `${name}_total{kind="plain"} 1`,
        `${name}_total{kind="say \\"hi\\"\\n"} 3`
      ])
    }))

  it.effect("registered counter renders at zero", () =>
    Effect.gen(function*() {
      const name = uniqueName("unrecorded")
      const counter = Metric.counter(name, { description: "Never updated.", incremental: true })
      yield* registerMetrics([counter])
      expect(linesOf(yield* renderPrefixed(name))).toEqual([
        `# HELP ${name}_total Never updated.`,
        `# TYPE ${name}_total counter`,
        `${name}_total 0`
      ])
    }))

  it.effect("engine counters listed before updates", () =>
    Effect.gen(function*() {
      const lines = linesOf(yield* renderRegistry)
      expect(lines).toContainEqual(expect.stringMatching(/^saleslab_webhook_retries_scheduled_total \d+$/))
      expect(lines).toContainEqual(expect.stringMatching(/^saleslab_webhook_sweeps_total \d+$/))
      expect(lines).toContainEqual(expect.stringMatching(/^saleslab_webhook_attempt_duration_seconds_count \d+$/))
    }))

  it.effect("counter named _total keeps one suffix", () =>
    Effect.gen(function*() {
      const name = `${uniqueName("requests")}_total`
      yield* Metric.increment(Metric.counter(name))

      const lines = linesOf(yield* renderPrefixed(name))

      expect(lines).toEqual([`# TYPE ${name} counter`, `${name} 1`])
    }))

  it.effect("gauge keeps its last value", () =>
    Effect.gen(function*() {
      const name = uniqueName("depth")
      const gauge = Metric.gauge(name, { description: "Queue depth." })
      yield* Metric.set(gauge, 7)
      yield* Metric.set(gauge, 4)

      const lines = linesOf(yield* renderPrefixed(name))

      expect(lines).toEqual([`# HELP ${name} Queue depth.`, `# TYPE ${name} gauge`, `${name} 4`])
    }))

  it.effect("histogram buckets cumulative", () =>
    Effect.gen(function*() {
      const name = uniqueName("duration.seconds")
      const family = sanitizeMetricName(name)
      const histogram = Metric.tagged(
        Metric.histogram(name, MetricBoundaries.fromIterable([0.1, 1, 10]), "Duration."),
        "outcome",
        "succeeded"
      )
      for (const value of [0.05, 0.1, 0.5, 5, 50]) yield* Metric.update(histogram, value)

      const lines = linesOf(yield* renderPrefixed(name))

      expect(lines).toEqual([
        `# HELP ${family} Duration.`,
        `# TYPE ${family} histogram`,
        `${family}_bucket{outcome="succeeded",le="0.1"} 2`,
        `${family}_bucket{outcome="succeeded",le="1"} 3`,
        `${family}_bucket{outcome="succeeded",le="10"} 4`,
        `${family}_bucket{outcome="succeeded",le="+Inf"} 5`,
        `${family}_count{outcome="succeeded"} 5`,
        `${family}_sum{outcome="succeeded"} 55.65`
      ])
    }))

  it.effect("series of one family grouped", () =>
    Effect.gen(function*() {
      const prefix = uniqueName("group")
      const other = `${prefix}_a`
      const grouped = `${prefix}_b`
      yield* Metric.set(Metric.tagged(Metric.gauge(grouped), "shard", "2"), 2)
      yield* Metric.set(Metric.gauge(other), 9)
      yield* Metric.set(Metric.tagged(Metric.gauge(grouped), "shard", "1"), 1)

      const lines = linesOf(yield* renderPrefixed(prefix))

      expect(lines).toEqual([
        `# TYPE ${other} gauge`,
        `${other} 9`,
        `# TYPE ${grouped} gauge`,
        `${grouped}{shard="1"} 1`,
        `${grouped}{shard="2"} 2`
      ])
    }))

  it("empty registry renders nothing", () => {
    expect(renderPrometheus([])).toBe("")
  })
})
