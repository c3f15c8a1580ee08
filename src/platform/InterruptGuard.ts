/**
 * How long after a SIGINT another one counts as its repeat. A terminal's
 * Ctrl-C reaches both npm and Node, and npm forwards its copy to Node, so Node
 * receives two SIGINTs a few milliseconds apart.
 */
export const repeatWindowMs = 2_000

/**
 * Maximum time the shutdown may take after the first SIGINT before the
 * process exits anyway. The shutdown itself waits at most 30 s for the
 * delivery engine's entities and the delivery timeout for an attempt.
 * A terminal's Ctrl-C also stops the embedded PostgreSQL at once, and with
 * the database gone, a shutdown under load was seen to wait for good.
 */
export const shutdownDeadlineMs = 45_000

/**
 * Returns a SIGINT listener that ignores the first SIGINT and any repeat
 * within `repeatWindowMs` of it, and calls `exit(130)` on a later one. The
 * first SIGINT also calls `onFirst`.
 */
export const makeInterruptListener = (now: () => number, exit: (code: number) => void, onFirst: () => void = () => {}) => {
  let firstAt: number | undefined
  return () => {
    const at = now()
    if (firstAt === undefined) {
      firstAt = at
      onFirst()
      return
    }
    if (at - firstAt > repeatWindowMs) exit(130)
  }
}

/** Writes one error line in the service's JSON log format and exits with 1. */
const exitAfterDeadline = (deadlineMs: number) => {
  const line = {
    message: `Shutdown did not finish within ${deadlineMs / 1000} s of the SIGINT; exiting`,
    logLevel: "ERROR",
    timestamp: new Date().toISOString()
  }
  process.stdout.write(`${JSON.stringify(line)}\n`)
  process.exit(1)
}

/**
 * Keeps a repeated SIGINT from ending the process during its shutdown.
 * `NodeRuntime.runMain` stops listening for SIGINT once the first one arrives,
 * and Node's default action would then end the process on the second, before
 * the attempts in flight are recorded. A SIGINT after `repeatWindowMs` still
 * exits at once, for an operator who presses Ctrl-C again to force the stop.
 * A shutdown still running `deadlineMs` after the first SIGINT is ended
 * with exit code 1. The timer does not keep the process alive.
 */
export const installInterruptGuard = (deadlineMs: number = shutdownDeadlineMs): void => {
  const startDeadline = () => {
    setTimeout(() => exitAfterDeadline(deadlineMs), deadlineMs).unref()
  }
  process.on("SIGINT", makeInterruptListener(Date.now, (code) => process.exit(code), startDeadline))
}
