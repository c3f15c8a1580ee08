import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeInterruptListener, repeatWindowMs } from "../../src/platform/InterruptGuard.ts"
import { runModuleScript } from "../support/ModuleScript.ts"

/**
 * Runs a child process whose guard watches a stand-in for the embedded
 * server, a Node process named `server`, and whose shutdown never ends. It
 * sends itself a SIGINT and then runs `lines`.
 */
const runWithStandInServer = (deadlineMs: number, lines: ReadonlyArray<string>) =>
  runModuleScript([
    "const { spawn } = await import('node:child_process')",
    "const { installInterruptGuard, watchEmbeddedServer } = await import('./src/platform/InterruptGuard.ts')",
    "const server = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })",
    "watchEmbeddedServer(server.pid)",
    `installInterruptGuard(${deadlineMs})`,
    "setInterval(() => {}, 1000)",
    "process.kill(process.pid, 'SIGINT')",
    ...lines
  ]).pipe(Effect.timeout("20 seconds"))

describe("InterruptGuard", () => {
  it.live("survives a repeated stop signal", () =>
    Effect.gen(function*() {
      // Without the guard, Node's default action ends the process on the second signal.
      // A Ctrl-C reaches Node twice under npm, and so does a SIGTERM to the process group.
      for (const signal of ["SIGINT", "SIGTERM"]) {
        const { code } = yield* runModuleScript([
          "const { installInterruptGuard } = await import('./src/platform/InterruptGuard.ts')",
          "installInterruptGuard()",
          `process.kill(process.pid, '${signal}')`,
          `setTimeout(() => process.kill(process.pid, '${signal}'), 10)`,
          "setTimeout(() => process.exit(0), 1000)"
        ])
        expect(code, signal).toBe(0)
      }
    }))

  it.live("exits past the shutdown deadline", () =>
    Effect.gen(function*() {
      for (const signal of ["SIGINT", "SIGTERM"]) {
        // The interval plays a shutdown that never ends.
        const { code, output } = yield* runModuleScript([
          "const { installInterruptGuard } = await import('./src/platform/InterruptGuard.ts')",
          "installInterruptGuard(300)",
          "setInterval(() => {}, 1000)",
          `process.kill(process.pid, '${signal}')`
        ]).pipe(Effect.timeout("20 seconds"))
        expect(code, signal).toBe(1)
        expect(output, signal).toContain(`Shutdown did not finish within 0.3 s of the ${signal}`)
      }
    }))

  it.live("exits when embedded server stops", () =>
    Effect.gen(function*() {
      const { code, output } = yield* runWithStandInServer(60_000, [
        "setTimeout(() => { console.log('stopping the server'); server.kill('SIGKILL') }, 500)"
      ])
      expect(code).toBe(130)
      expect(output).toContain("stopping the server")
      expect(output).toContain("The embedded PostgreSQL stopped with the SIGINT, so nothing more can be recorded; exiting")
    }))

  it.live("waits while embedded server runs", () =>
    Effect.gen(function*() {
      const { code, output } = yield* runWithStandInServer(1_500, ["process.on('exit', () => server.kill('SIGKILL'))"])
      expect(code).toBe(1)
      expect(output).toContain("Shutdown did not finish within 1.5 s of the SIGINT")
    }))

  it("starts deadline on first SIGINT", () => {
    let clock = 0
    let started = 0
    const listener = makeInterruptListener(() => clock, () => {}, () => started++)
    listener()
    expect(started).toBe(1)
    clock = repeatWindowMs + 1
    listener()
    expect(started).toBe(1)
  })

  it("exits only on a SIGINT after the window", () => {
    let clock = 0
    const exits: Array<number> = []
    const listener = makeInterruptListener(() => clock, (code) => exits.push(code))
    listener()
    clock = repeatWindowMs
    listener()
    expect(exits).toEqual([])
    clock = repeatWindowMs + 1
    listener()
    expect(exits).toEqual([130])
  })

  it("repeats count across both signals", () => {
    let clock = 0
    const exits: Array<number> = []
    const listener = makeInterruptListener(() => clock, (code) => exits.push(code))
    listener("SIGTERM")
    clock = repeatWindowMs
    listener("SIGINT")
    expect(exits).toEqual([])
    clock = repeatWindowMs + 1
    listener("SIGTERM")
    expect(exits).toEqual([143])
  })
})
