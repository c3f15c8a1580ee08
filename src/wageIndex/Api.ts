import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { strictBody, strictQuery } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, NotFound } from "../ApiErrors.ts"
import { WageBand } from "../events/Catalog.ts"
import { ListParams, Page } from "../Pagination.ts"
import { OperatorAuthentication } from "../tenancy/Security.ts"

/** Id of a wage index snapshot. */
export const SnapshotId = Schema.UUID.pipe(Schema.brand("WageIndexSnapshotId")).annotations({
  identifier: "WageIndexSnapshotId",
  description: "Id of a wage index snapshot (UUID)."
})
export type SnapshotId = typeof SnapshotId.Type

/** Number of reps in each Sales Lab Score tier. */
export const PerTierCount = Schema.Struct({
  bronze: Schema.Int,
  silver: Schema.Int,
  gold: Schema.Int,
  platinum: Schema.Int,
  diamond: Schema.Int
}).annotations({ identifier: "PerTierCount", description: "Number of reps in each Sales Lab Score tier." })
export type PerTierCount = typeof PerTierCount.Type

/** A nightly snapshot of the score distribution across every tenant, published or not. */
export const WageIndexSnapshot = Schema.Struct({
  id: SnapshotId,
  label: Schema.String.annotations({ description: "Quarter and month the snapshot was generated in, such as Q2 2026 · May." }),
  population_size: Schema.Int.annotations({ description: "Number of reps with a Sales Lab Score." }),
  median_score: Schema.Int.annotations({ description: "Median Sales Lab Score of those reps, 0 to 1000." }),
  median_percentile: Schema.Int.annotations({
    description: "Percentile rank of the median score: reps below it plus half of the reps equal to it, over all reps, 0 to 100."
  }),
  per_tier_count: PerTierCount,
  bands: Schema.Array(WageBand),
  generated_at: Schema.Date,
  published_at: Schema.NullOr(Schema.Date).annotations({ description: "When the snapshot was published; null while unpublished." }),
  public_url: Schema.String
}).annotations({ identifier: "WageIndexSnapshot" })
export type WageIndexSnapshot = typeof WageIndexSnapshot.Type

/** Body of `PATCH /api/admin/wage-index/{snapshot_id}`. */
export const PublishSnapshot = Schema.Struct({
  publish: Schema.Boolean.annotations({
    description: "true publishes the snapshot and emits wage_index.published unless it is already published; false unpublishes it."
  })
}).annotations({ identifier: "PublishSnapshot" })
export type PublishSnapshot = typeof PublishSnapshot.Type

/** Operator routes of the wage index: list the nightly snapshots and publish or unpublish one. */
export class WageIndexApi extends HttpApiGroup.make("wageIndex")
  .add(
    HttpApiEndpoint.get("list", "/api/admin/wage-index")
      .setUrlParams(strictQuery(ListParams))
      .addSuccess(Page(WageIndexSnapshot))
      .addError(BadRequest)
      .annotate(OpenApi.Description, "Lists wage index snapshots, newest first, published or not.")
  )
  .add(
    HttpApiEndpoint.patch("publish", "/api/admin/wage-index/:snapshot_id")
      .setPath(Schema.Struct({ snapshot_id: SnapshotId }))
      .setPayload(strictBody(PublishSnapshot))
      .addSuccess(WageIndexSnapshot)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Publishes or unpublishes a snapshot. Publishing an unpublished snapshot sets published_at and sends wage_index.published to every tenant's matching subscriptions; publishing a published one changes nothing and sends nothing. Unpublishing sends nothing."
      )
  )
  .middleware(OperatorAuthentication)
  .annotate(OpenApi.Title, "Wage index")
{}
