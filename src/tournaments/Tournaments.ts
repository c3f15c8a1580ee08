import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { BadRequest, Conflict, NotFound } from "../ApiErrors.ts"
import type {
  AddTournamentTeam,
  BracketRound,
  CreateTournament,
  StartedTournament,
  Tournament,
  TournamentBracket,
  TournamentId,
  TournamentMatch
} from "./Api.ts"
import { firstRoundPairings } from "./Bracket.ts"
import { type NewMatchRow, TournamentsRepo } from "./TournamentsRepo.ts"

const tournamentNotFound = (id: string) => new NotFound({ message: `Tournament ${id} not found.` })

/** Groups matches, sorted by round and position, into rounds. */
const toRounds = (matches: ReadonlyArray<TournamentMatch>): ReadonlyArray<BracketRound> => {
  const rounds: Array<{ round: number; matches: Array<TournamentMatch> }> = []
  for (const match of matches) {
    const last = rounds.at(-1)
    if (last !== undefined && last.round === match.round) last.matches.push(match)
    else rounds.push({ round: match.round, matches: [match] })
  }
  return rounds.map((round) => ({
    round: round.round,
    matches: round.matches.map(({ reported_by_user_id: _reporter, tournament_id: _tournament, ...match }) => match)
  }))
}

/**
 * Tournaments. The operator creates one, enters teams of any company and
 * starts it, which lays out round 1. A tenant with a team in it reads the
 * bracket.
 */
export class Tournaments extends Effect.Service<Tournaments>()("saleslab/Tournaments", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* TournamentsRepo

    /** Creates a tournament open for teams, or fails with Conflict when the slug is taken. */
    const create = (input: CreateTournament) =>
      Effect.gen(function*() {
        const tournament: Tournament = {
          id: randomUUID() as TournamentId,
          slug: input.slug,
          title: input.title,
          format: "single_elimination",
          status: "registering",
          winner_team_id: null,
          created_at: new Date(yield* Clock.currentTimeMillis),
          completed_at: null
        }
        if (!(yield* repo.insertTournament(tournament))) {
          return yield* new Conflict({ message: `The slug '${input.slug}' is already used by another tournament.` })
        }
        return tournament
      }).pipe(Effect.withSpan("Tournaments.create", { attributes: { slug: input.slug } }))

    /**
     * Enters a team with the next seed. The tournament row is locked, so
     * concurrent entries get distinct seeds and none slips in after the start.
     */
    const addTeam = (tournamentId: TournamentId, input: AddTournamentTeam) =>
      Effect.gen(function*() {
        const tournament = yield* repo.lockTournament(tournamentId)
        if (tournament === undefined) return yield* tournamentNotFound(tournamentId)
        if (tournament.status !== "registering") {
          return yield* new Conflict({
            message: `Tournament ${tournamentId} has already started, so no team can be entered.`
          })
        }
        if (!(yield* repo.companyExists(input.company_id))) {
          return yield* new NotFound({ message: `Company ${input.company_id} not found.` })
        }
        if (!(yield* repo.isUserOfCompany(input.company_id, input.captain_user_id))) {
          return yield* new BadRequest({
            field: "captain_user_id",
            message: `captain_user_id ${input.captain_user_id} is not a user of company ${input.company_id}.`
          })
        }

        const team = yield* repo.insertTeam({
          id: randomUUID(),
          tournament_id: tournamentId,
          company_id: input.company_id,
          name: input.name,
          captain_user_id: input.captain_user_id,
          created_at: new Date(yield* Clock.currentTimeMillis)
        })
        if (team === undefined) {
          return yield* new Conflict({ message: `Tournament ${tournamentId} already has a team named '${input.name}'.` })
        }
        return team
      }).pipe(
        sql.withTransaction,
        Effect.withSpan("Tournaments.addTeam", { attributes: { tournamentId, companyId: input.company_id } })
      )

    /**
     * Starts a registering tournament and creates its first round from the
     * seeds, with byes for the top seeds when the team count is not a power
     * of two. A bye is stored completed, with team A as winner.
     */
    const start = (tournamentId: TournamentId) =>
      Effect.gen(function*() {
        const tournament = yield* repo.lockTournament(tournamentId)
        if (tournament === undefined) return yield* tournamentNotFound(tournamentId)
        if (tournament.status !== "registering") {
          return yield* new Conflict({ message: `Tournament ${tournamentId} has already started.` })
        }
        const teams = yield* repo.teams(tournamentId)
        if (teams.length < 2) {
          return yield* new Conflict({
            message: `Tournament ${tournamentId} has ${teams.length} team(s), but starting needs at least 2. Enter more teams first.`
          })
        }

        const now = new Date(yield* Clock.currentTimeMillis)
        const teamBySeed = new Map(teams.map((team) => [team.seed, team.id]))
        const rows: Array<NewMatchRow> = firstRoundPairings(teams.length).map((pairing) => {
          const teamAId = teamBySeed.get(pairing.seedA)!
          const isBye = pairing.seedB === undefined
          return {
            id: randomUUID(),
            tournament_id: tournamentId,
            round: 1,
            position: pairing.position,
            team_a_id: teamAId,
            team_b_id: isBye ? null : teamBySeed.get(pairing.seedB)!,
            status: isBye ? "completed" : "scheduled",
            winner_team_id: isBye ? teamAId : null,
            ended_at: isBye ? now : null,
            created_at: now
          }
        })
        const matches = yield* repo.insertMatches(rows)
        yield* repo.setStatus(tournamentId, "in_progress")

        yield* Effect.logInfo("Tournament started").pipe(
          Effect.annotateLogs({ tournamentId, teams: teams.length, matches: matches.length })
        )
        const started: StartedTournament = {
          tournament: { ...tournament, status: "in_progress" },
          matches: [...matches].sort((a, b) => a.position - b.position)
        }
        return started
      }).pipe(sql.withTransaction, Effect.withSpan("Tournaments.start", { attributes: { tournamentId } }))

    /**
     * Reads the bracket of tournament `slug` for company `companyId`, with
     * the company's own teams marked. Fails with NotFound unless the company
     * has a team in it, so a tenant learns nothing of tournaments it does not
     * play in.
     */
    const bracket = (companyId: string, slug: string) =>
      Effect.gen(function*() {
        const tournament = yield* repo.findTournamentBySlug(slug)
        const teams = tournament === undefined ? [] : yield* repo.teams(tournament.id)
        if (tournament === undefined || !teams.some((team) => team.company_id === companyId)) {
          return yield* new NotFound({ message: `Tournament '${slug}' not found.` })
        }
        const matches = yield* repo.matches(tournament.id)
        const view: TournamentBracket = {
          ...tournament,
          teams: teams.map((team) => ({
            id: team.id,
            name: team.name,
            seed: team.seed,
            captain_user_id: team.captain_user_id,
            is_eliminated: team.is_eliminated,
            is_own_team: team.company_id === companyId
          })),
          rounds: toRounds(matches)
        }
        return view
      }).pipe(Effect.withSpan("Tournaments.bracket", { attributes: { companyId, slug } }))

    return { create, addTeam, start, bracket } as const
  }),
  dependencies: [TournamentsRepo.Default]
}) {}
