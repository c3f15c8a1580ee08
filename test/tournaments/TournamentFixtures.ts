import { SqlClient } from "@effect/sql"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { sendAs } from "../support/Tenants.ts"
import { testOperatorToken } from "../support/TestServer.ts"

/** A company with a write token and users that can captain teams and report results. */
export interface Company {
  readonly companyId: string
  readonly userId: string
  readonly token: string
}

/** Inserts another user of `companyId` and returns its id. */
export const insertUser = (companyId: string, name = "Casey Captain") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const userId = randomUUID()
    yield* sql`
      INSERT INTO users (id, company_id, email, name, role)
      VALUES (${userId}, ${companyId}, ${`user-${userId}@example.com`}, ${name}, 'rep')`
    return userId
  })

/** Sends an operator request and returns the raw status and body. */
export const asOperator = (method: "GET" | "POST", path: string, body?: unknown) =>
  sendAs(testOperatorToken, method, path, body)

/** Creates a tournament through the operator route and returns its id. */
export const createTournament = (slug: string, title = "Spring 2026 Cup") =>
  Effect.gen(function*() {
    const response = yield* asOperator("POST", "/api/admin/tournaments", { slug, title })
    expect(response.status, JSON.stringify(response.body)).toBe(201)
    return response.body.id as string
  })

/** Enters a team captained by `captainUserId` and returns its id. */
export const addTeam = (tournamentId: string, companyId: string, name: string, captainUserId: string) =>
  Effect.gen(function*() {
    const response = yield* asOperator("POST", `/api/admin/tournaments/${tournamentId}/teams`, {
      company_id: companyId,
      name,
      captain_user_id: captainUserId
    })
    expect(response.status, JSON.stringify(response.body)).toBe(201)
    return response.body.id as string
  })

/** Starts a tournament and returns its round-1 matches by position. */
export const startTournament = (tournamentId: string) =>
  Effect.gen(function*() {
    const response = yield* asOperator("POST", `/api/admin/tournaments/${tournamentId}/start`)
    expect(response.status, JSON.stringify(response.body)).toBe(200)
    return response.body.matches as ReadonlyArray<Record<string, any>>
  })

/** Reports a result as `reporter` and returns the raw status and body. */
export const reportResult = (
  reporter: Company,
  matchId: string,
  teamAScore: number,
  teamBScore: number,
  reportedByUserId = reporter.userId
) =>
  sendAs(reporter.token, "POST", `/api/tournament-matches/${matchId}/result`, {
    team_a_score: teamAScore,
    team_b_score: teamBScore,
    reported_by_user_id: reportedByUserId
  })

/** The stored deliveries of a subscription: delivery id and parsed body. */
export const deliveriesOf = (subscriptionId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ delivery_id: string; event_kind: string; body: string }>`
      SELECT delivery_id, event_kind, body FROM webhook_deliveries
      WHERE subscription_id = ${subscriptionId} ORDER BY id`
    return rows.map((row) => ({ deliveryId: row.delivery_id, kind: row.event_kind, body: JSON.parse(row.body) }))
  })

/** The stored state of a match. */
export const matchRow = (matchId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ status: string; winner_team_id: string | null; team_a_score: number | null }>`
      SELECT status, winner_team_id, team_a_score FROM tournament_matches WHERE id = ${matchId}`
    return row!
  })

/** Whether a team is eliminated. */
export const isEliminated = (teamId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ is_eliminated: boolean }>`SELECT is_eliminated FROM tournament_teams WHERE id = ${teamId}`
    return row!.is_eliminated
  })

/** The matches of a round of a tournament, by position. */
export const roundMatches = (tournamentId: string, round: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ id: string; team_a_id: string; team_b_id: string | null; status: string }>`
      SELECT id, team_a_id, team_b_id, status FROM tournament_matches
      WHERE tournament_id = ${tournamentId} AND round = ${round} ORDER BY position`
  })
