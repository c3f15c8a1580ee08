import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"

/**
 * Runs a Node process that installs the guard, sends itself SIGINT at each
 * of `delaysMs` (from its start), and exits with 0 after 3 s when still alive.
 */
const runWithInterrupts = (delaysMs: ReadonlyArray<number>) =>
  Effect.async<number | null>((resume) => {
    const script = [
      "const { installInterruptGuard } = await import('./src/platform/InterruptGuard.ts')",
      "installInterruptGuard()",
      `for (const delay of ${JSON.stringify(delaysMs)}) setTimeout(() => process.kill(process.pid, 'SIGINT'), delay)`,
      "setTimeout(() => process.exit(0), 3000)"
    ].join("\n")
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "ignore" })
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

describe("InterruptGuard", () => {
  it.live("survives a repeated SIGINT", () =>
    Effect.gen(function*() {
      expect(yield* runWithInterrupts([100, 110])).toBe(0)
    }))

  it.live("exits on a SIGINT after the window", () =>
    Effect.gen(function*() {
      expect(yield* runWithInterrupts([100, 2_400])).toBe(130)
    }))
})
