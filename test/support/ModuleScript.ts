import { Effect } from "effect"
import { spawn } from "node:child_process"

/** Exit code and standard output of a script run by `runModuleScript`. */
export interface ScriptResult {
  readonly code: number | null
  readonly output: string
}

/**
 * Runs `lines` as an ES module in a child Node process with the `tsx`
 * loader, from the project folder, and waits for it to exit.
 */
export const runModuleScript = (lines: ReadonlyArray<string>) =>
  Effect.async<ScriptResult>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", lines.join("\n")], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })
