import { readdirSync, readFileSync } from "node:fs"
import { formatMs } from "./report.ts"

/**
 * Length of one clock tick of `/proc/<pid>/stat`, in milliseconds. Linux
 * reports CPU times in ticks of `sysconf(_SC_CLK_TCK)`, which is 100 per
 * second on the common x86-64 and arm64 builds.
 * NOTE: assumed, not read: Node has no binding for sysconf.
 */
const tickMs = 10

/** CPU time of a process tree, in milliseconds of user plus system time. */
export interface TreeCpu {
  /** The root process alone, such as the service's Node process. */
  readonly root: number
  /** Every descendant, such as the embedded PostgreSQL and its backends, including those that have exited and were reaped. */
  readonly descendants: number
}

interface ProcessStat {
  readonly pid: number
  readonly parent: number
  /** utime + stime, in ticks. */
  readonly own: number
  /** cutime + cstime, in ticks: the children that exited and were waited for. */
  readonly reaped: number
}

const readStat = (pid: number): ProcessStat | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name in field 2 may contain spaces, so the fields are counted from its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    const number = (field: number) => Number(fields[field - 3])
    return { pid, parent: number(4), own: number(14) + number(15), reaped: number(16) + number(17) }
  } catch {
    return undefined
  }
}

/**
 * Reads the CPU time of `rootPid` and of all its descendants from
 * `/proc` (Linux only). A descendant that has exited counts once its
 * parent has waited for it, through the parent's children times.
 * Returns NaN fields when the root process is gone.
 */
export const readTreeCpu = (rootPid: number): TreeCpu => {
  const stats = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readStat(Number(name)) ?? [])
  const children = new Map<number, Array<ProcessStat>>()
  for (const stat of stats) children.set(stat.parent, [...(children.get(stat.parent) ?? []), stat])

  const root = stats.find((stat) => stat.pid === rootPid)
  if (root === undefined) return { root: Number.NaN, descendants: Number.NaN }
  let descendants = root.reaped
  const pending = [...(children.get(rootPid) ?? [])]
  while (pending.length > 0) {
    const stat = pending.pop()!
    descendants += stat.own + stat.reaped
    pending.push(...(children.get(stat.pid) ?? []))
  }
  return { root: root.own * tickMs, descendants: descendants * tickMs }
}

/** CPU time used between two readings. */
export const cpuSince = (before: TreeCpu, after: TreeCpu): TreeCpu => ({
  root: after.root - before.root,
  descendants: after.descendants - before.descendants
})

/** CPU time of this process, in milliseconds of user plus system time. */
export const ownCpuMs = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** CPU time used over one interval by the service, its database and this process, in milliseconds. */
export interface CpuUse {
  /** The service's Node process. */
  readonly serviceMs: number
  /** The embedded PostgreSQL, which also serves this process's connections. */
  readonly databaseMs: number
  /** This process: the publisher and the bookkeeping of the benchmark. */
  readonly benchmarkMs: number
  readonly wallMs: number
}

/** Starts measuring the CPU time of the service tree under `servicePid` and of this process; the result stops it. */
export const startCpuMeter = (servicePid: number): (() => CpuUse) => {
  const treeBefore = readTreeCpu(servicePid)
  const ownBefore = ownCpuMs()
  const startedAt = performance.now()
  return () => {
    const tree = cpuSince(treeBefore, readTreeCpu(servicePid))
    return { serviceMs: tree.root, databaseMs: tree.descendants, benchmarkMs: ownCpuMs() - ownBefore, wallMs: performance.now() - startedAt }
  }
}

export const cpuHeader = [
  "service CPU ms per delivery",
  "PostgreSQL CPU ms per delivery",
  "benchmark CPU ms per delivery",
  "service CPU, % of one core"
] as const

/** The cells of one CPU measurement over `deliveries` deliveries, in the order of `cpuHeader`. */
export const cpuCells = (use: CpuUse, deliveries: number): Array<string> => [
  formatMs(use.serviceMs / deliveries),
  formatMs(use.databaseMs / deliveries),
  formatMs(use.benchmarkMs / deliveries),
  `${((use.serviceMs / use.wallMs) * 100).toFixed(0)} %`
]
