import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { Tournament, TournamentMatch, TournamentStatus, TournamentTeam } from "./Api.ts"

const tournamentColumns = "id, slug, title, format, status, winner_team_id, created_at, completed_at"
const teamColumns = "id, tournament_id, company_id, name, captain_user_id, seed, is_eliminated, created_at"
const matchColumns =
  "id, tournament_id, round, position, team_a_id, team_b_id, status, team_a_score, team_b_score, winner_team_id, reported_by_user_id, ended_at"

/** A match row as inserted. */
export interface NewMatchRow {
  readonly id: string
  readonly tournament_id: string
  readonly round: number
  readonly position: number
  readonly team_a_id: string
  readonly team_b_id: string | null
  readonly status: "scheduled" | "completed"
  readonly winner_team_id: string | null
  readonly ended_at: Date | null
  readonly created_at: Date
}

/** A team row to insert. The insert assigns the seed. */
export interface NewTeamRow {
  readonly id: string
  readonly tournament_id: string
  readonly company_id: string
  readonly name: string
  readonly captain_user_id: string
  readonly created_at: Date
}

/** The reported outcome of a match. */
export interface MatchOutcome {
  readonly teamAScore: number
  readonly teamBScore: number
  readonly winnerTeamId: string
  readonly reportedByUserId: string
  readonly endedAt: Date
}

/**
 * SQL access to tournaments, their teams and matches. Tournaments belong to
 * no tenant, so callers check a tenant's access through its teams. The
 * `lock` reads take a row lock and must run inside a transaction.
 */
export class TournamentsRepo extends Effect.Service<TournamentsRepo>()("saleslab/TournamentsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** Inserts a tournament and returns false when its slug is already in use. */
    const insertTournament = (row: Tournament) =>
      sql`
        INSERT INTO tournaments (id, slug, title, format, status, created_at)
        VALUES (${row.id}, ${row.slug}, ${row.title}, ${row.format}, ${row.status}, ${row.created_at})
        ON CONFLICT (slug) DO NOTHING
        RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))

    const findTournament = (id: string) =>
      sql<Tournament>`SELECT ${sql.literal(tournamentColumns)} FROM tournaments WHERE id = ${id}`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Reads a tournament and locks its row until the transaction ends. */
    const lockTournament = (id: string) =>
      sql<Tournament>`SELECT ${sql.literal(tournamentColumns)} FROM tournaments WHERE id = ${id} FOR UPDATE`.pipe(
        Effect.map((rows) => rows[0])
      )

    const findTournamentBySlug = (slug: string) =>
      sql<Tournament>`SELECT ${sql.literal(tournamentColumns)} FROM tournaments WHERE slug = ${slug}`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Ids of the tournaments whose matches are being played. */
    const inProgressTournamentIds = sql<{ id: string }>`
      SELECT id FROM tournaments WHERE status = 'in_progress' ORDER BY created_at, id`.pipe(
      Effect.map((rows) => rows.map((row) => row.id))
    )

    const setStatus = (id: string, status: TournamentStatus) =>
      sql`UPDATE tournaments SET status = ${status} WHERE id = ${id}`.pipe(Effect.asVoid)

    const complete = (id: string, winnerTeamId: string, completedAt: Date) =>
      sql`
        UPDATE tournaments SET status = 'completed', winner_team_id = ${winnerTeamId}, completed_at = ${completedAt}
        WHERE id = ${id}`.pipe(Effect.asVoid)

    const companyExists = (companyId: string) =>
      sql`SELECT 1 FROM companies WHERE id = ${companyId}`.pipe(Effect.map((rows) => rows.length > 0))

    /** Whether the user exists in the company. */
    const isUserOfCompany = (companyId: string, userId: string) =>
      sql`SELECT 1 FROM users WHERE company_id = ${companyId} AND id = ${userId}`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    /**
     * Inserts a team with the next free seed. Returns undefined when the
     * tournament already has a team of that name. Lock the tournament first,
     * so that two concurrent entries cannot take the same seed.
     */
    const insertTeam = (row: NewTeamRow) =>
      sql<TournamentTeam>`
        INSERT INTO tournament_teams (id, tournament_id, company_id, name, captain_user_id, seed, created_at)
        SELECT ${row.id}, ${row.tournament_id}, ${row.company_id}, ${row.name}, ${row.captain_user_id},
          coalesce(max(seed), 0) + 1, ${row.created_at}
        FROM tournament_teams WHERE tournament_id = ${row.tournament_id}
        ON CONFLICT (tournament_id, name) DO NOTHING
        RETURNING ${sql.literal(teamColumns)}`.pipe(Effect.map((rows) => rows[0]))

    /** The teams of a tournament, by seed. */
    const teams = (tournamentId: string) =>
      sql<TournamentTeam>`
        SELECT ${sql.literal(teamColumns)} FROM tournament_teams
        WHERE tournament_id = ${tournamentId} ORDER BY seed`

    const findTeam = (id: string) =>
      sql<TournamentTeam>`SELECT ${sql.literal(teamColumns)} FROM tournament_teams WHERE id = ${id}`.pipe(
        Effect.map((rows) => rows[0])
      )

    const eliminateTeam = (id: string) =>
      sql`UPDATE tournament_teams SET is_eliminated = true WHERE id = ${id}`.pipe(Effect.asVoid)

    /** The matches of a tournament, by round and position. */
    const matches = (tournamentId: string) =>
      sql<TournamentMatch>`
        SELECT ${sql.literal(matchColumns)} FROM tournament_matches
        WHERE tournament_id = ${tournamentId} ORDER BY round, position`

    /** Inserts matches, skipping any slot of a round that already has a match, and returns the inserted rows. */
    const insertMatches = (rows: ReadonlyArray<NewMatchRow>) =>
      rows.length === 0
        ? Effect.succeed<ReadonlyArray<TournamentMatch>>([])
        : sql<TournamentMatch>`
            INSERT INTO tournament_matches ${sql.insert(rows.map((row) => ({ ...row })))}
            ON CONFLICT (tournament_id, round, position) DO NOTHING
            RETURNING ${sql.literal(matchColumns)}`

    /** Reads a match and locks its row until the transaction ends. */
    const lockMatch = (id: string) =>
      sql<TournamentMatch>`SELECT ${sql.literal(matchColumns)} FROM tournament_matches WHERE id = ${id} FOR UPDATE`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Records the result of a match and returns the completed row. */
    const completeMatch = (id: string, outcome: MatchOutcome) =>
      sql<TournamentMatch>`
        UPDATE tournament_matches SET
          status = 'completed',
          team_a_score = ${outcome.teamAScore},
          team_b_score = ${outcome.teamBScore},
          winner_team_id = ${outcome.winnerTeamId},
          reported_by_user_id = ${outcome.reportedByUserId},
          ended_at = ${outcome.endedAt}
        WHERE id = ${id}
        RETURNING ${sql.literal(matchColumns)}`.pipe(Effect.map((rows) => rows[0]!))

    return {
      insertTournament,
      findTournament,
      lockTournament,
      findTournamentBySlug,
      inProgressTournamentIds,
      setStatus,
      complete,
      companyExists,
      isUserOfCompany,
      insertTeam,
      teams,
      findTeam,
      eliminateTeam,
      matches,
      insertMatches,
      lockMatch,
      completeMatch
    } as const
  })
}) {}
