/**
 * How long after a SIGINT another one counts as its repeat. A terminal's
 * Ctrl-C reaches both npm and Node, and npm forwards its copy to Node, so Node
 * receives two SIGINTs a few milliseconds apart.
 */
export const repeatWindowMs = 2_000

/**
 * Returns a SIGINT listener that ignores the first SIGINT and any repeat
 * within `repeatWindowMs` of it, and calls `exit(130)` on a later one.
 */
export const makeInterruptListener = (now: () => number, exit: (code: number) => void) => {
  let firstAt: number | undefined
  return () => {
    const at = now()
    if (firstAt === undefined) {
      firstAt = at
      return
    }
    if (at - firstAt > repeatWindowMs) exit(130)
  }
}

/**
 * Keeps a repeated SIGINT from ending the process during its shutdown.
 * `NodeRuntime.runMain` stops listening for SIGINT once the first one arrives,
 * and Node's default action would then end the process on the second, before
 * the attempts in flight are recorded. A SIGINT after `repeatWindowMs` still
 * exits at once, for an operator who presses Ctrl-C again to force the stop.
 */
export const installInterruptGuard = (): void => {
  process.on("SIGINT", makeInterruptListener(Date.now, (code) => process.exit(code)))
}
