import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"

/** Inserts a user of the company and returns its id; the email is unique per call. */
export const insertUser = (companyId: string, name: string, role: "rep" | "manager" | "admin" = "rep") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = randomUUID()
    const email = `${name.toLowerCase().replace(/\s+/g, ".")}.${id.slice(0, 8)}@example.com`
    yield* sql`INSERT INTO users (id, company_id, email, name, role) VALUES (${id}, ${companyId}, ${email}, ${name}, ${role})`
    return { id, email, name }
  })

/** Inserts a scenario of the company and returns its id. */
export const insertScenario = (companyId: string, title: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = randomUUID()
    yield* sql`INSERT INTO scenarios (id, company_id, title, prompt) VALUES (${id}, ${companyId}, ${title}, ${`Play: ${title}`})`
    return id
  })

/** The graded parts of a scorecard that a test sets. */
export interface ScorecardFields {
  readonly overall_score: number
  readonly verdict: "pass" | "fail"
  readonly category_scores: Readonly<Record<string, number>>
  readonly best_line: string
  readonly worst_line: string
  readonly next_drill: string
}

/**
 * Inserts a completed practice session of the user on the scenario and its
 * scorecard, created at `createdAt`. Returns the scorecard id.
 */
export const insertScorecard = (
  target: { readonly companyId: string; readonly userId: string; readonly scenarioId: string },
  createdAt: string,
  fields: ScorecardFields
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sessionId = randomUUID()
    const scorecardId = randomUUID()
    const at = new Date(createdAt)
    yield* sql`
      INSERT INTO practice_sessions (id, company_id, user_id, scenario_id, status, started_at, ended_at)
      VALUES (${sessionId}, ${target.companyId}, ${target.userId}, ${target.scenarioId}, 'completed',
        ${new Date(at.getTime() - 600_000)}, ${at})`
    yield* sql`
      INSERT INTO scorecards (id, session_id, company_id, user_id, scenario_id, overall_score, verdict, headline,
        category_scores, best_line, worst_line, next_drill, created_at)
      VALUES (${scorecardId}, ${sessionId}, ${target.companyId}, ${target.userId}, ${target.scenarioId},
        ${fields.overall_score}, ${fields.verdict}, ${"Practice call"}, ${JSON.stringify(fields.category_scores)}::jsonb,
        ${fields.best_line}, ${fields.worst_line}, ${fields.next_drill}, ${at})`
    return scorecardId
  })

/** A stored brief, with dates as text. */
export interface StoredBrief {
  readonly id: string
  readonly company_id: string
  readonly user_id: string
  readonly week_start: string
  readonly week_end: string
  readonly summary: string
  readonly celebrate: ReadonlyArray<string>
  readonly coach: ReadonlyArray<string>
  readonly sent_at: Date
  readonly message_id: string
}

/** Every stored brief of the users, oldest week first. */
export const briefsOf = (userIds: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<StoredBrief>`
      SELECT id, company_id, user_id, week_start::text AS week_start, week_end::text AS week_end, summary,
        celebrate, coach, sent_at, message_id
      FROM coaching_briefs WHERE user_id IN ${sql.in([...userIds])}
      ORDER BY week_start, user_id`)

/** The `coaching.brief_delivered` deliveries queued for the subscription, oldest first. */
export const briefDeliveries = (subscriptionId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ delivery_id: string; event_kind: string; body: string }>`
      SELECT delivery_id, event_kind, body FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId}
      ORDER BY id`)

/** Numbers of rows that a brief writes, to check that a run wrote nothing. */
export const briefRowCounts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ briefs: number; events: number; deliveries: number }>`
    SELECT
      (SELECT count(*)::int FROM coaching_briefs) AS briefs,
      (SELECT count(*)::int FROM events WHERE kind = 'coaching.brief_delivered') AS events,
      (SELECT count(*)::int FROM webhook_deliveries WHERE event_kind = 'coaching.brief_delivered') AS deliveries`.pipe(
    Effect.map((rows) => rows[0]!)
  ))
