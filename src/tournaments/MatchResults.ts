import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { BadRequest, Conflict, NotFound } from "../ApiErrors.ts"
import { Events } from "../events/Events.ts"
import type { ReportMatchResult, TournamentMatchId } from "./Api.ts"
import { TournamentsRepo } from "./TournamentsRepo.ts"

/**
 * Reports tournament match results: the match is finalized, its loser
 * eliminated and `tournament.match_completed` published to the company of
 * each team (once when both teams belong to one company), all in one
 * transaction. Round advancement is left to the `tournament-advance` job.
 */
export class MatchResults extends Effect.Service<MatchResults>()("saleslab/MatchResults", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* TournamentsRepo
    const events = yield* Events

    const reportLocked = (companyId: string, matchId: TournamentMatchId, input: ReportMatchResult) =>
      Effect.gen(function*() {
        const notFound = new NotFound({ message: `Tournament match ${matchId} not found.` })
        const match = yield* repo.lockMatch(matchId)
        if (match === undefined) return yield* notFound
        const teamA = yield* repo.findTeam(match.team_a_id)
        const teamB = match.team_b_id === null ? undefined : yield* repo.findTeam(match.team_b_id)
        if (teamA === undefined || (teamA.company_id !== companyId && teamB?.company_id !== companyId)) {
          return yield* notFound
        }

        if (match.status === "completed" || teamB === undefined) {
          return yield* new Conflict({ message: `Tournament match ${matchId} is already completed.` })
        }
        if (!(yield* repo.isUserOfCompany(companyId, input.reported_by_user_id))) {
          return yield* new BadRequest({
            field: "reported_by_user_id",
            message: `reported_by_user_id ${input.reported_by_user_id} is not a user of your company.`
          })
        }

        const teamAWon = input.team_a_score > input.team_b_score
        const [winner, loser] = teamAWon ? [teamA, teamB] : [teamB, teamA]
        const endedAt = new Date(yield* Clock.currentTimeMillis)
        const completed = yield* repo.completeMatch(match.id, {
          teamAScore: input.team_a_score,
          teamBScore: input.team_b_score,
          winnerTeamId: winner.id,
          reportedByUserId: input.reported_by_user_id,
          endedAt
        })
        yield* repo.eliminateTeam(loser.id)

        const tournament = (yield* repo.findTournament(match.tournament_id))!
        const fields = {
          match_id: match.id,
          tournament: { slug: tournament.slug, title: tournament.title },
          winner_team_id: winner.id,
          loser_team_id: loser.id,
          team_a_id: teamA.id,
          team_b_id: teamB.id,
          team_a_score: input.team_a_score,
          team_b_score: input.team_b_score,
          reported_by_user_id: input.reported_by_user_id,
          winner_captain_user_id: winner.captain_user_id,
          ended_at: endedAt
        }
        yield* events.publish("tournament.match_completed", winner.company_id, endedAt, fields)
        if (loser.company_id !== winner.company_id) {
          yield* events.publish("tournament.match_completed", loser.company_id, endedAt, fields)
        }

        yield* Effect.logInfo("Tournament match completed").pipe(
          Effect.annotateLogs({ tournamentId: match.tournament_id, winnerTeamId: winner.id, loserTeamId: loser.id })
        )
        return completed
      })

    /**
     * Finalizes a scheduled match in which `companyId` has a team. Fails with
     * BadRequest on equal scores or a reporter outside the company, and with
     * NotFound for a match the company does not play in. Fails with Conflict
     * when the match is already completed, a bye included. None of these
     * failures writes anything.
     */
    const report = (companyId: string, matchId: TournamentMatchId, input: ReportMatchResult) =>
      Effect.gen(function*() {
        if (input.team_a_score === input.team_b_score) {
          return yield* new BadRequest({
            field: "team_b_score",
            message: "team_a_score equals team_b_score. A match needs a winner, so report different scores."
          })
        }
        return yield* sql.withTransaction(reportLocked(companyId, matchId, input))
      }).pipe(
        Effect.annotateLogs({ companyId, matchId }),
        Effect.withSpan("MatchResults.report", { attributes: { companyId, matchId } })
      )

    return { report } as const
  }),
  dependencies: [TournamentsRepo.Default, Events.Default]
}) {}
