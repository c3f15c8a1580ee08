import { describe, expect, it } from "@effect/vitest"
import { formatMs, markdownTable, summarize } from "../../scripts/support/report.ts"

describe("Benchmark summary", () => {
  it("uses nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, index) => 100 - index)
    const summary = summarize(values)
    expect(summary.count).toBe(100)
    expect(summary.median).toBe(50)
    expect(summary.p90).toBe(90)
    expect(summary.p99).toBe(99)
    expect(summary.max).toBe(100)
  })

  it("rounds ranks up on small sets", () => {
    const summary = summarize([3, 1, 2])
    expect(summary.median).toBe(2)
    expect(summary.p90).toBe(3)
  })

  it("ranks missing values above all", () => {
    const summary = summarize(Array.from({ length: 98 }, (_, index) => index + 1), 2)
    expect(summary.count).toBe(100)
    expect(summary.missing).toBe(2)
    expect(summary.p90).toBe(90)
    expect(summary.p99).toBe(Number.POSITIVE_INFINITY)
    expect(formatMs(summary.p99)).toBe("missing")
  })

  it("returns NaN for an empty set", () => {
    expect(Number.isNaN(summarize([]).median)).toBe(true)
    expect(formatMs(Number.NaN)).toBe("-")
  })
})

describe("Markdown table", () => {
  it("aligns the first column left and the rest right", () => {
    const lines = markdownTable(["path", "ms"], [["commit to arrival", "12.5"], ["bare | POST", "1.25"]]).split("\n")
    expect(lines).toHaveLength(4)
    expect(lines[0]).toBe("| path              |   ms |")
    expect(lines[1]).toBe("| ----------------- | ---: |")
    expect(lines[2]).toBe("| commit to arrival | 12.5 |")
    expect(lines[3]).toBe("| bare \\| POST      | 1.25 |")
  })
})
