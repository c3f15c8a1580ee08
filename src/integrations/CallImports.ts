import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import { ScenarioId } from "../practice/Api.ts"
import { PracticeRepo } from "../practice/PracticeRepo.ts"
import { defaultPassMark } from "../practice/Scenarios.ts"
import type { ImportCall, ImportedCall } from "./Api.ts"
import { type FailureMoment, ScenarioGenerator } from "./ScenarioGenerator.ts"

/** The import a request resulted in; `created` is false when the source URL was imported before. */
export interface CallImportOutcome {
  readonly created: boolean
  readonly call: ImportedCall
}

interface StoredImport {
  readonly id: string
  readonly scenario_id: string
  readonly failure_moment: FailureMoment
}

/**
 * Imports recorded calls. In one transaction it stores the import, inserts
 * the drill scenario the `ScenarioGenerator` made from the call and publishes
 * `real_call.imported`, so a failure at any step writes none of them. A
 * source URL the tenant imported before returns that import and publishes
 * nothing.
 */
export class CallImports extends Effect.Service<CallImports>()("saleslab/CallImports", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const practiceRepo = yield* PracticeRepo
    const events = yield* Events
    const generator = yield* ScenarioGenerator

    const findBySourceUrl = (companyId: string, sourceUrl: string) =>
      sql<StoredImport>`
        SELECT id, scenario_id, failure_moment FROM call_imports
        WHERE company_id = ${companyId} AND source_url = ${sourceUrl}`.pipe(Effect.map((rows) => rows[0]))

    const existingImport = (row: StoredImport): CallImportOutcome => ({
      created: false,
      call: { ingest_id: row.id, scenario_id: row.scenario_id, failure_moment: row.failure_moment, status: "imported" }
    })

    /** Inserts the import row; returns false when the tenant already imported the source URL. */
    const insertImport = (row: {
      readonly id: string
      readonly companyId: string
      readonly input: ImportCall
      readonly scenarioId: string
      readonly failureMoment: FailureMoment
      readonly createdAt: Date
    }) =>
      sql<{ id: string }>`
        INSERT INTO call_imports (id, company_id, source_url, source_vendor, external_id, user_id, transcript,
          scenario_id, failure_moment, created_at)
        VALUES (${row.id}, ${row.companyId}, ${row.input.source_url}, ${row.input.source_vendor},
          ${row.input.external_id ?? null}, ${row.input.user_id ?? null}, ${JSON.stringify(row.input.transcript)}::jsonb,
          ${row.scenarioId}, ${JSON.stringify(row.failureMoment)}::jsonb, ${row.createdAt})
        ON CONFLICT (company_id, source_url) DO NOTHING
        RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    const importCall = (companyId: string, input: ImportCall) =>
      Effect.gen(function*() {
        const earlier = yield* findBySourceUrl(companyId, input.source_url)
        if (earlier !== undefined) {
          yield* Effect.logInfo("Call import repeated for an imported source URL")
          return existingImport(earlier)
        }
        if (input.user_id !== undefined && !(yield* practiceRepo.userExists(companyId, input.user_id))) {
          return yield* new NotFound({ message: `User ${input.user_id} not found.` })
        }

        const drill = yield* generator.generate(input.transcript).pipe(
          Effect.mapError((error) => new BadRequest({ message: error.message, field: "transcript" }))
        )
        const ingestId = randomUUID()
        const scenarioId = ScenarioId.make(randomUUID())
        const createdAt = new Date(yield* Clock.currentTimeMillis)

        return yield* sql.withTransaction(Effect.gen(function*() {
          // A concurrent import of the same URL makes this insert wait for it, then insert nothing.
          const inserted = yield* insertImport({
            id: ingestId,
            companyId,
            input,
            scenarioId,
            failureMoment: drill.failureMoment,
            createdAt
          })
          if (!inserted) {
            const concurrent = yield* findBySourceUrl(companyId, input.source_url)
            return existingImport(concurrent!)
          }

          yield* practiceRepo.insertScenario({
            id: scenarioId,
            company_id: companyId,
            title: drill.title,
            prompt: drill.prompt,
            pass_mark: defaultPassMark,
            created_at: createdAt
          })
          yield* events.publish("real_call.imported", companyId, createdAt, {
            ingest_id: ingestId,
            source_url: input.source_url,
            source_vendor: input.source_vendor,
            generated_scenario_id: scenarioId,
            failure_moment: drill.failureMoment
          })

          yield* Effect.logInfo("Call imported").pipe(Effect.annotateLogs({ ingestId, scenarioId }))
          const outcome: CallImportOutcome = {
            created: true,
            call: { ingest_id: ingestId, scenario_id: scenarioId, failure_moment: drill.failureMoment, status: "imported" }
          }
          return outcome
        }))
      }).pipe(
        Effect.annotateLogs({ companyId, sourceVendor: input.source_vendor }),
        Effect.withSpan("CallImports.importCall", { attributes: { companyId, sourceVendor: input.source_vendor } })
      )

    return { importCall } as const
  }),
  dependencies: [PracticeRepo.Default]
}) {}
