import { Effect, Exit, Option, Redacted, Scope } from "effect"
import { rmSync } from "node:fs"
import type { TestProject } from "vitest/node"
import { buildServiceBundle } from "../../scripts/support/service.ts"
import { startEmbeddedPostgres } from "../../src/platform/EmbeddedPostgres.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection URL of the server that test databases are created on. */
    databaseUrl: string
  }
}

/**
 * Builds the service bundle, then provides the PostgreSQL server of the test
 * run: `DATABASE_URL` when set, otherwise an embedded server in a folder of
 * its own under `.data/`, so that two test runs can share a machine, stopped
 * and removed at the end.
 */
export default async function setup(project: TestProject) {
  // The suites that start the service as a process run the bundle that `npm start` runs.
  buildServiceBundle()
  const configured = process.env.DATABASE_URL
  if (configured !== undefined && configured !== "") {
    project.provide("databaseUrl", configured)
    return
  }
  const directory = `.data/test-postgres-${process.pid}`
  const scope = Effect.runSync(Scope.make())
  const url = await Effect.runPromise(
    startEmbeddedPostgres(directory).pipe(Scope.extend(scope), Effect.map(Option.some))
  )
  project.provide("databaseUrl", Redacted.value(Option.getOrThrow(url)))
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(directory, { recursive: true, force: true })
  }
}
