/**
 * Output of the delivery benchmarks: latency summaries, Markdown tables,
 * the machine they ran on and whether each goal line was met.
 */
import { cpus, loadavg, totalmem } from "node:os"

/**
 * Summary of a set of durations in milliseconds. Percentiles use the
 * nearest-rank method. A missing value (a delivery that never arrived)
 * ranks above every measured one, so a percentile that falls on one is
 * `Infinity`, printed as "missing".
 */
export interface Summary {
  /** Measured values and missing ones together. */
  readonly count: number
  readonly missing: number
  readonly median: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/** Summarizes `durations`, with `missing` more values that count as longer than any of them. */
export const summarize = (durations: ReadonlyArray<number>, missing = 0): Summary => {
  const sorted = [...durations].sort((a, b) => a - b)
  const count = sorted.length + missing
  const rank = (percentile: number) => {
    if (count === 0) return Number.NaN
    const index = Math.max(0, Math.ceil((percentile / 100) * count) - 1)
    return index < sorted.length ? sorted[index]! : Number.POSITIVE_INFINITY
  }
  return { count, missing, median: rank(50), p90: rank(90), p99: rank(99), max: rank(100) }
}

/** Median of `values`: the mean of the middle two for an even count. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Formats milliseconds with 3 significant digits and at most 2 decimals: 0.42, 12.3, 187, 1520. */
export const formatMs = (value: number): string => {
  if (Number.isNaN(value)) return "-"
  if (value === Number.POSITIVE_INFINITY) return "missing"
  // Rounds values that would print as -0.00 to zero.
  if (Math.abs(value) < 0.005) return "0.00"
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** Formats a count with thousands separators. */
export const formatCount = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-")

/** Formats a ratio such as `2.4x`. */
export const formatRatio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(value >= 10 ? 0 : 2)}x` : "-")

/** Formats a rate per second: whole numbers from 100 up, one decimal below. */
export const formatRate = (value: number): string => {
  if (!Number.isFinite(value)) return "-"
  return value >= 100 ? formatCount(value) : value.toFixed(1)
}

/** The cells of one latency summary, in the order of `summaryHeader`. */
export const summaryCells = (summary: Summary): Array<string> => [
  formatCount(summary.count),
  formatCount(summary.missing),
  formatMs(summary.median),
  formatMs(summary.p90),
  formatMs(summary.p99),
  formatMs(summary.max)
]

export const summaryHeader = ["count", "missing", "median ms", "P90 ms", "P99 ms", "max ms"] as const

/**
 * Returns a Markdown table. The first column is left-aligned and the others
 * right-aligned, and every column is padded to its widest cell so that the
 * table also reads as plain text.
 */
export const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const escape = (cell: string) => cell.replaceAll("|", "\\|")
  const cells = [header, ...rows].map((row) => row.map(escape))
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => (row[column] ?? "").length)))
  const line = (row: ReadonlyArray<string>) =>
    `| ${row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join(" | ")} |`
  const rule = `| ${widths.map((width, column) => column === 0 ? "-".repeat(width) : `${"-".repeat(width - 1)}:`).join(" | ")} |`
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join("\n")
}

/** Load averages over 1, 5 and 15 minutes, as `os.loadavg` returns them, formatted `1.52 / 1.31 / 0.90`. */
export const formatLoad = (load: ReadonlyArray<number> = loadavg()): string => load.map((value) => value.toFixed(2)).join(" / ")

/** One line with the cores, CPU model, memory and Node version of this machine. */
export const machineLine = (): string => {
  const processors = cpus()
  const memoryGb = (totalmem() / 1024 ** 3).toFixed(1)
  return `${processors.length} cores (${processors[0]?.model ?? "unknown CPU"}), ${memoryGb} GB memory, ` +
    `Node ${process.versions.node}, ${process.platform} ${process.arch}`
}

/** A target the benchmark checks its figures against. */
export interface GoalLine {
  /** The target, such as "P99 at most 100 ms at 500/s". */
  readonly goal: string
  /** The measured figure it was checked against. */
  readonly measured: string
  /** Whether the figure meets the target, or undefined when the run did not measure it. */
  readonly met: boolean | undefined
}

const goalResult = (met: boolean | undefined): string => {
  if (met === undefined) return "not measured"
  return met ? "met" : "not met"
}

/** Prints each goal line as "met", "not met" or "not measured", in a Markdown table. */
export const printGoals = (goals: ReadonlyArray<GoalLine>): void => {
  const rows = goals.map((goal) => [goal.goal, goal.measured, goalResult(goal.met)])
  console.log(markdownTable(["goal", "measured", "result"], rows))
}

/** Prints the settings of a run as a Markdown table of names and values. */
export const printSettings = (settings: Readonly<Record<string, string | number>>): void => {
  console.log(markdownTable(["setting", "value"], Object.entries(settings).map(([name, value]) => [name, String(value)])))
}

/** Milliseconds since the epoch with sub-millisecond precision, comparable between processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now()

/**
 * Returns `epochNow()` minus the wall clock (`Date.now()`) of this process,
 * in milliseconds, to convert times that other processes took from `Date`
 * into `epochNow()` time. `Date.now()` truncates to whole milliseconds, so
 * the average of many readings, less half a millisecond, is the estimate.
 */
export const wallClockOffset = (samples = 2_000): number => {
  let sum = 0
  for (let sample = 0; sample < samples; sample++) sum += epochNow() - Date.now()
  return sum / samples - 0.5
}
