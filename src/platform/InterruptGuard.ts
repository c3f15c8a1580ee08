/**
 * How long after a SIGINT another one counts as its repeat. A terminal's
 * Ctrl-C reaches both npm and Node, and npm forwards its copy to Node, so Node
 * receives two SIGINTs a few milliseconds apart.
 */
export const repeatWindowMs = 2_000

/**
 * Keeps a repeated SIGINT from ending the process during its shutdown.
 * `NodeRuntime.runMain` stops listening for SIGINT once the first one arrives,
 * and Node's default action would then end the process on the second, before
 * the attempts in flight are recorded. This listener ignores a SIGINT that
 * follows the first within `repeatWindowMs`, and exits with 130 at once on a
 * later one, for an operator who presses Ctrl-C again to force the stop.
 */
export const installInterruptGuard = (): void => {
  let firstAt: number | undefined
  process.on("SIGINT", () => {
    const now = Date.now()
    if (firstAt === undefined) {
      firstAt = now
      return
    }
    if (now - firstAt > repeatWindowMs) process.exit(130)
  })
}
