/**
 * How long after a stop signal another one counts as its repeat. A terminal's
 * Ctrl-C reaches both npm and Node, and npm forwards its copy to Node, so Node
 * receives two SIGINTs a few milliseconds apart. A SIGTERM sent to the whole
 * process group under `npm start`, as a service manager may do, arrives twice
 * the same way.
 */
export const repeatWindowMs = 2_000

/**
 * Maximum time the shutdown may take after the first stop signal before the
 * process exits anyway. The shutdown itself waits at most 30 s for the
 * delivery engine's entities and the delivery timeout for an attempt.
 * It bounds waits that no check here foresees, such as on a database that
 * stopped responding.
 */
export const shutdownDeadlineMs = 45_000

/** The signals that stop the service, with the exit code of a process they end. */
const stopSignals = { SIGINT: 130, SIGTERM: 143 } as const

/** A signal that stops the service. */
export type StopSignal = keyof typeof stopSignals

/**
 * Returns a listener for the stop signals. It ignores the first signal and
 * any repeat of either signal within `repeatWindowMs`, and calls `onFirst`
 * with the first signal's name. A later signal calls `exit` with its code:
 * 130 for SIGINT, 143 for SIGTERM.
 */
export const makeInterruptListener = (
  now: () => number,
  exit: (code: number) => void,
  onFirst: (signal: StopSignal) => void = () => {}
) => {
  let firstAt: number | undefined
  return (signal: StopSignal = "SIGINT") => {
    const at = now()
    if (firstAt === undefined) {
      firstAt = at
      onFirst(signal)
      return
    }
    if (at - firstAt > repeatWindowMs) exit(stopSignals[signal])
  }
}

/** Writes one line in the service's JSON log format and exits with `code`. */
const exitWithLine = (logLevel: "INFO" | "ERROR", message: string, code: number) => {
  process.stdout.write(`${JSON.stringify({ message, logLevel, timestamp: new Date().toISOString() })}\n`)
  process.exit(code)
}

/** Interval at which a shutdown after a SIGINT checks whether the embedded PostgreSQL still runs. */
export const serverCheckIntervalMs = 200

/** The process of the embedded PostgreSQL while it serves the service, as `watchEmbeddedServer` set it. */
let embeddedServerPid: number | undefined

/**
 * Names the process of the embedded PostgreSQL that the service uses, or
 * none once the service stops it itself. The embedded server runs in the
 * service's process group, so a terminal's Ctrl-C stops it together with
 * the service. With the database gone, nothing that the shutdown still
 * does can be recorded, and @effect/cluster's storage then waits on dead
 * connections until the deadline. So a shutdown after a SIGINT ends at
 * once when this process has exited. Deliveries whose attempts were in
 * flight are sent again after the next start, as after a crash.
 */
export const watchEmbeddedServer = (pid: number | undefined): void => {
  embeddedServerPid = pid
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Keeps a repeated SIGINT or SIGTERM from ending the process during its
 * shutdown. `NodeRuntime.runMain` stops listening for both once the first
 * one arrives, and Node's default action would then end the process on the
 * second, before the attempts in flight are recorded and without stopping the
 * embedded PostgreSQL. A signal after `repeatWindowMs` still exits at once,
 * for an operator who presses Ctrl-C again to force the stop. A shutdown
 * still running `deadlineMs` after the first signal is ended with exit code
 * 1, and one whose embedded PostgreSQL has exited (`watchEmbeddedServer`) is
 * ended at once with the code of that signal. The timers do not keep the
 * process alive.
 */
export const installInterruptGuard = (deadlineMs: number = shutdownDeadlineMs): void => {
  const startDeadline = (signal: StopSignal) => {
    setTimeout(
      () => exitWithLine("ERROR", `Shutdown did not finish within ${deadlineMs / 1000} s of the ${signal}; exiting`, 1),
      deadlineMs
    ).unref()
    setInterval(() => {
      const pid = embeddedServerPid
      if (pid === undefined || isRunning(pid)) return
      exitWithLine(
        "INFO",
        `The embedded PostgreSQL stopped with the ${signal}, so nothing more can be recorded; exiting`,
        stopSignals[signal]
      )
    }, serverCheckIntervalMs).unref()
  }
  const listener = makeInterruptListener(Date.now, (code) => process.exit(code), startDeadline)
  process.on("SIGINT", () => listener("SIGINT"))
  process.on("SIGTERM", () => listener("SIGTERM"))
}
