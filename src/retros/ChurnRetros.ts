import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { Conflict } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import type { ChurnRetro, PublishChurnRetro } from "./Api.ts"

/**
 * Publishes churn retros. The retro is stored and `churn_retro.published`
 * queued for the matching subscriptions of every tenant in one transaction,
 * so a failed broadcast leaves the slug free to publish again.
 */
export class ChurnRetros extends Effect.Service<ChurnRetros>()("saleslab/ChurnRetros", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const events = yield* Events

    /** Inserts the retro; returns false when its slug is already published. */
    const insertRetro = (retro: ChurnRetro) =>
      sql`
        INSERT INTO churn_retros (slug, company_name, reason_short, what_we_changed, published_at)
        VALUES (${retro.slug}, ${retro.company_name}, ${retro.reason_short}, ${retro.what_we_changed},
          ${retro.published_at})
        ON CONFLICT (slug) DO NOTHING
        RETURNING slug`.pipe(Effect.map((rows) => rows.length > 0))

    const publish = (input: PublishChurnRetro) =>
      Effect.gen(function*() {
        const retro: ChurnRetro = {
          slug: input.slug,
          company_name: input.company_name.trim(),
          reason_short: input.reason_short.trim(),
          what_we_changed: input.what_we_changed.trim(),
          published_at: new Date(yield* Clock.currentTimeMillis)
        }

        return yield* sql.withTransaction(Effect.gen(function*() {
          if (!(yield* insertRetro(retro))) {
            return yield* new Conflict({
              message: `A churn retro with slug '${retro.slug}' is already published. Choose another slug.`
            })
          }
          const deliveries = yield* events.broadcast("churn_retro.published", retro.published_at, retro)
          yield* Effect.logInfo("Churn retro published").pipe(Effect.annotateLogs({ deliveries }))
          return retro
        }))
      }).pipe(
        Effect.annotateLogs({ slug: input.slug }),
        Effect.withSpan("ChurnRetros.publish", { attributes: { slug: input.slug } })
      )

    return { publish } as const
  })
}) {}
