import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { nextRoundPairings } from "./Bracket.ts"
import { TournamentsRepo } from "./TournamentsRepo.ts"

/** Outcome of advancing one tournament by one step. */
export type AdvanceOutcome =
  | { readonly _tag: "Waiting" }
  | { readonly _tag: "RoundCreated"; readonly round: number; readonly matches: number }
  | { readonly _tag: "Completed"; readonly winnerTeamId: string }

/** Counts of one run of the job across every tournament in progress. */
export interface AdvanceSummary {
  readonly tournaments: number
  readonly roundsCreated: number
  readonly completed: number
}

/**
 * The `tournament-advance` job: for each tournament in progress whose latest
 * round is fully completed, it creates the next round from the winners, or,
 * when that round was the final, marks the tournament completed with its
 * winner. Each tournament is advanced in its own transaction under a lock on
 * its row, and a round's slots are unique, so concurrent or repeated runs
 * never create a round twice.
 */
export class TournamentAdvance extends Effect.Service<TournamentAdvance>()("saleslab/TournamentAdvance", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* TournamentsRepo

    /** Advances one tournament by at most one step. */
    const advance = (tournamentId: string) =>
      Effect.gen(function*() {
        const tournament = yield* repo.lockTournament(tournamentId)
        const waiting: AdvanceOutcome = { _tag: "Waiting" }
        if (tournament === undefined || tournament.status !== "in_progress") return waiting

        const matches = yield* repo.matches(tournamentId)
        const latestRound = Math.max(...matches.map((match) => match.round))
        const current = matches.filter((match) => match.round === latestRound)
        if (current.length === 0 || current.some((match) => match.status !== "completed")) return waiting

        const now = new Date(yield* Clock.currentTimeMillis)
        const winners = current.map((match) => match.winner_team_id!)
        if (winners.length === 1) {
          yield* repo.complete(tournamentId, winners[0]!, now)
          yield* Effect.logInfo("Tournament completed").pipe(Effect.annotateLogs({ winnerTeamId: winners[0] }))
          const completed: AdvanceOutcome = { _tag: "Completed", winnerTeamId: winners[0]! }
          return completed
        }

        const round = latestRound + 1
        const inserted = yield* repo.insertMatches(nextRoundPairings(winners).map((pairing) => ({
          id: randomUUID(),
          tournament_id: tournamentId,
          round,
          position: pairing.position,
          team_a_id: pairing.teamAId,
          team_b_id: pairing.teamBId,
          status: "scheduled",
          winner_team_id: null,
          ended_at: null,
          created_at: now
        })))
        yield* Effect.logInfo("Tournament round created").pipe(Effect.annotateLogs({ round, matches: inserted.length }))
        const created: AdvanceOutcome = { _tag: "RoundCreated", round, matches: inserted.length }
        return created
      }).pipe(
        sql.withTransaction,
        Effect.annotateLogs({ tournamentId }),
        Effect.withSpan("TournamentAdvance.advance", { attributes: { tournamentId } })
      )

    /** Advances every tournament in progress, one after another. */
    const run = Effect.gen(function*() {
      const ids = yield* repo.inProgressTournamentIds
      const outcomes = yield* Effect.forEach(ids, advance)
      const summary: AdvanceSummary = {
        tournaments: ids.length,
        roundsCreated: outcomes.filter((outcome) => outcome._tag === "RoundCreated").length,
        completed: outcomes.filter((outcome) => outcome._tag === "Completed").length
      }
      yield* Effect.logInfo("Tournaments advanced").pipe(Effect.annotateLogs({ ...summary }))
      return summary
    }).pipe(Effect.withSpan("TournamentAdvance.run"))

    return { advance, run } as const
  }),
  dependencies: [TournamentsRepo.Default]
}) {}
