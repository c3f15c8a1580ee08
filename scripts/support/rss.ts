import { readFileSync } from "node:fs"

/**
 * Returns the resident set size of process `pid` in bytes, read from the
 * `VmRSS` line of `/proc/<pid>/status` (Linux only), or undefined when the
 * process or the file is gone.
 */
export const readRss = (pid: number): number | undefined => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((text) => text.startsWith("VmRSS:"))
    const kilobytes = line === undefined ? Number.NaN : Number(line.split(/\s+/)[1])
    return Number.isFinite(kilobytes) ? kilobytes * 1024 : undefined
  } catch {
    return undefined
  }
}

/** Samples taken by an `RssSampler` since it started. */
export interface RssSamples {
  readonly count: number
  /** Largest sample in bytes, NaN without samples. */
  readonly max: number
  /** Latest sample in bytes, NaN without samples. */
  readonly last: number
}

/** Samples the RSS of one process at a fixed interval until stopped. */
export interface RssSampler {
  /** The samples so far. */
  current(): RssSamples
  /** Takes one last sample, stops and returns the samples. */
  stop(): RssSamples
}

/**
 * Starts sampling the RSS of `pid` every `intervalMs` milliseconds, with a
 * first sample at once, and passes each sample in bytes to `onSample`.
 */
export const sampleRss = (pid: number, intervalMs = 200, onSample?: (rss: number) => void): RssSampler => {
  let count = 0
  let max = Number.NaN
  let last = Number.NaN
  const sample = () => {
    const rss = readRss(pid)
    if (rss === undefined) return
    count += 1
    last = rss
    max = Number.isNaN(max) ? rss : Math.max(max, rss)
    onSample?.(rss)
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  const current = () => ({ count, max, last })
  return {
    current,
    stop: () => {
      clearInterval(timer)
      sample()
      return current()
    }
  }
}

/** Formats bytes as megabytes (10^6 bytes) with one decimal, such as `182.4 MB`. */
export const formatMegabytes = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(1)} MB` : "-")
