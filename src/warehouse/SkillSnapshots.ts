import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"

/**
 * The ten skills of a rep's skill snapshot, in column order. The first five
 * are the grader's standard categories. The others are scored when the voice
 * agent's analysis reports a `score_<skill>` item for them.
 */
export const skills = [
  "discovery",
  "objection_handling",
  "control",
  "rapport",
  "closing",
  "value_proposition",
  "qualification",
  "negotiation",
  "active_listening",
  "next_steps"
] as const
export type Skill = (typeof skills)[number]

/** The scorecard a snapshot is taken after. */
export interface ScoredCall {
  readonly scorecardId: string
  readonly companyId: string
  readonly userId: string
  readonly scoredAt: Date
}

/**
 * Writes skill snapshots, the rows of the `warehouse_skill_progress` view.
 * A snapshot is taken after each scorecard, in the scorecard's transaction.
 */
export class SkillSnapshots extends Effect.Service<SkillSnapshots>()("saleslab/SkillSnapshots", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Stores the rep's skill levels after `call`: for each skill, the mean of
     * its score over the rep's last five scorecards that scored it, computed
     * by the `skill_mean` function of the database. A second snapshot of the
     * same scorecard is ignored.
     */
    const takeAfter = (call: ScoredCall) =>
      sql`
        INSERT INTO skill_snapshots (id, company_id, user_id, scorecard_id, taken_at,
          discovery, objection_handling, control, rapport, closing,
          value_proposition, qualification, negotiation, active_listening, next_steps)
        SELECT ${randomUUID()}, ${call.companyId}, ${call.userId}, ${call.scorecardId}, ${call.scoredAt},
          ${sql.unsafe(skills.map((skill) => `skill_mean(s.user_id, s.created_at, s.id, '${skill}')`).join(", "))}
        FROM scorecards s
        WHERE s.id = ${call.scorecardId}
        ON CONFLICT (scorecard_id) DO NOTHING`.pipe(
        Effect.asVoid,
        Effect.withSpan("SkillSnapshots.takeAfter", { attributes: { companyId: call.companyId } })
      )

    return { takeAfter } as const
  })
}) {}
