import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { makeInterruptListener, repeatWindowMs } from "../../src/platform/InterruptGuard.ts"

describe("InterruptGuard", () => {
  it.live("survives a repeated SIGINT", () =>
    Effect.gen(function*() {
      // Without the guard, Node's default action ends the process on the second SIGINT.
      const script = [
        "const { installInterruptGuard } = await import('./src/platform/InterruptGuard.ts')",
        "installInterruptGuard()",
        "process.kill(process.pid, 'SIGINT')",
        "setTimeout(() => process.kill(process.pid, 'SIGINT'), 10)",
        "setTimeout(() => process.exit(0), 1000)"
      ].join("\n")
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "ignore" })
      const code = yield* Effect.async<number | null>((resume) => {
        child.once("exit", (exitCode) => resume(Effect.succeed(exitCode)))
      })
      expect(code).toBe(0)
    }))

  it.live("exits when the shutdown passes its deadline", () =>
    Effect.gen(function*() {
      // The interval plays a shutdown that never ends.
      const script = [
        "const { installInterruptGuard } = await import('./src/platform/InterruptGuard.ts')",
        "installInterruptGuard(300)",
        "setInterval(() => {}, 1000)",
        "process.kill(process.pid, 'SIGINT')"
      ].join("\n")
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "ignore"]
      })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      const code = yield* Effect.async<number | null>((resume) => {
        child.once("exit", (exitCode) => resume(Effect.succeed(exitCode)))
      }).pipe(Effect.timeout("20 seconds"))
      expect(code).toBe(1)
      expect(output).toContain("Shutdown did not finish within 0.3 s of the SIGINT")
    }))

  it("starts the deadline on the first SIGINT only", () => {
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
})
