import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound } from "../ApiErrors.ts"
import { CompanyId, DisplayName, UserId } from "../tenancy/Api.ts"
import { Authentication, OperatorAuthentication } from "../tenancy/Security.ts"

/** Id of a tournament. */
export const TournamentId = Schema.UUID.pipe(Schema.brand("TournamentId")).annotations({
  identifier: "TournamentId",
  description: "Id of a tournament (UUID)."
})
export type TournamentId = typeof TournamentId.Type

/** Id of a team entered in a tournament. */
export const TournamentTeamId = Schema.UUID.pipe(Schema.brand("TournamentTeamId")).annotations({
  identifier: "TournamentTeamId",
  description: "Id of a tournament team (UUID)."
})
export type TournamentTeamId = typeof TournamentTeamId.Type

/** Id of a tournament match. */
export const TournamentMatchId = Schema.UUID.pipe(Schema.brand("TournamentMatchId")).annotations({
  identifier: "TournamentMatchId",
  description: "Id of a tournament match (UUID)."
})
export type TournamentMatchId = typeof TournamentMatchId.Type

/** Maximum length of a tournament slug, in characters. */
export const maxSlugLength = 64

/** The URL name of a tournament, such as `spring-2026-cup`. */
export const TournamentSlug = Schema.String.pipe(
  maxCharacters(maxSlugLength),
  Schema.pattern(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, {
    message: () => "Expected lower-case letters and digits in words joined by single hyphens, such as spring-2026-cup"
  })
).annotations({
  identifier: "TournamentSlug",
  description: "Lower-case letters and digits in words joined by single hyphens, at most 64 characters."
})

/**
 * State of a tournament: teams are entered while `registering`, matches are
 * played while `in_progress`, and it is `completed` once its final has a winner.
 */
export const TournamentStatus = Schema.Literal("registering", "in_progress", "completed").annotations({
  identifier: "TournamentStatus"
})
export type TournamentStatus = typeof TournamentStatus.Type

/** Bracket format. Only single elimination exists: a team that loses a match is out. */
export const TournamentFormat = Schema.Literal("single_elimination").annotations({ identifier: "TournamentFormat" })

/** State of a match: `completed` once its result is reported, or at creation for a bye. */
export const MatchStatus = Schema.Literal("scheduled", "completed").annotations({ identifier: "MatchStatus" })
export type MatchStatus = typeof MatchStatus.Type

/** Highest score a team can be reported with in one match. */
export const maxMatchScore = 1_000_000

const MatchScore = Schema.Int.pipe(Schema.between(0, maxMatchScore)).annotations({
  description: "Whole number from 0 to 1,000,000."
})

/** A tournament as the operator routes return it. */
export const Tournament = Schema.Struct({
  id: TournamentId,
  slug: Schema.String,
  title: Schema.String,
  format: TournamentFormat,
  status: TournamentStatus,
  winner_team_id: Schema.NullOr(TournamentTeamId).annotations({ description: "Winner of the final, null until the tournament is completed." }),
  created_at: Schema.Date,
  completed_at: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "Tournament" })
export type Tournament = typeof Tournament.Type

/** Body of `POST /api/admin/tournaments`. */
export const CreateTournament = Schema.Struct({
  slug: TournamentSlug,
  title: DisplayName
})
export type CreateTournament = typeof CreateTournament.Type

/** A team entered in a tournament. */
export const TournamentTeam = Schema.Struct({
  id: TournamentTeamId,
  tournament_id: TournamentId,
  company_id: CompanyId,
  name: Schema.String,
  captain_user_id: UserId,
  seed: Schema.Int.annotations({ description: "1 for the first team entered, 2 for the second, and so on. Seed 1 is the top seed." }),
  is_eliminated: Schema.Boolean,
  created_at: Schema.Date
}).annotations({ identifier: "TournamentTeam" })
export type TournamentTeam = typeof TournamentTeam.Type

/** Body of `POST /api/admin/tournaments/{id}/teams`. */
export const AddTournamentTeam = Schema.Struct({
  company_id: CompanyId,
  name: DisplayName,
  captain_user_id: UserId.annotations({ description: "A user of company_id who leads the team." })
})
export type AddTournamentTeam = typeof AddTournamentTeam.Type

/** A match of a bracket. A bye has no team B and is completed from the start with team A as winner. */
export const BracketMatch = Schema.Struct({
  id: TournamentMatchId,
  round: Schema.Int.annotations({ description: "1 for the first round. The final is the last round." }),
  position: Schema.Int.annotations({
    description: "Slot of the match within its round, from 0. The winners of slots 2k and 2k + 1 meet in slot k of the next round."
  }),
  team_a_id: TournamentTeamId,
  team_b_id: Schema.NullOr(TournamentTeamId).annotations({ description: "Null for a bye." }),
  status: MatchStatus,
  team_a_score: Schema.NullOr(Schema.Int),
  team_b_score: Schema.NullOr(Schema.Int),
  winner_team_id: Schema.NullOr(TournamentTeamId),
  ended_at: Schema.NullOr(Schema.Date)
}).annotations({ identifier: "BracketMatch" })
export type BracketMatch = typeof BracketMatch.Type

/** A tournament match with who reported its result. */
export const TournamentMatch = Schema.Struct({
  ...BracketMatch.fields,
  tournament_id: TournamentId,
  reported_by_user_id: Schema.NullOr(UserId)
}).annotations({ identifier: "TournamentMatch" })
export type TournamentMatch = typeof TournamentMatch.Type

/** Response of `POST /api/admin/tournaments/{id}/start`: the tournament and its first round. */
export const StartedTournament = Schema.Struct({
  tournament: Tournament,
  matches: Schema.Array(TournamentMatch)
}).annotations({ identifier: "StartedTournament" })
export type StartedTournament = typeof StartedTournament.Type

/** A team in the bracket shown to a participating tenant. */
export const BracketTeam = Schema.Struct({
  id: TournamentTeamId,
  name: Schema.String,
  seed: Schema.Int,
  captain_user_id: UserId,
  is_eliminated: Schema.Boolean,
  is_own_team: Schema.Boolean.annotations({ description: "True when the team belongs to the caller's company." })
}).annotations({ identifier: "BracketTeam" })
export type BracketTeam = typeof BracketTeam.Type

/** One round of a bracket. */
export const BracketRound = Schema.Struct({
  round: Schema.Int,
  matches: Schema.Array(BracketMatch)
}).annotations({ identifier: "BracketRound" })
export type BracketRound = typeof BracketRound.Type

/** A tournament with its teams by seed and its rounds so far. */
export const TournamentBracket = Schema.Struct({
  id: TournamentId,
  slug: Schema.String,
  title: Schema.String,
  format: TournamentFormat,
  status: TournamentStatus,
  winner_team_id: Schema.NullOr(TournamentTeamId),
  created_at: Schema.Date,
  completed_at: Schema.NullOr(Schema.Date),
  teams: Schema.Array(BracketTeam),
  rounds: Schema.Array(BracketRound)
}).annotations({ identifier: "TournamentBracket" })
export type TournamentBracket = typeof TournamentBracket.Type

/** Body of `POST /api/tournament-matches/{id}/result`. Equal scores are rejected, because a match needs a winner. */
export const ReportMatchResult = Schema.Struct({
  team_a_score: MatchScore,
  team_b_score: MatchScore,
  reported_by_user_id: UserId.annotations({ description: "A user of the caller's company." })
})
export type ReportMatchResult = typeof ReportMatchResult.Type

/** Operator routes that create tournaments, enter teams and start brackets. */
export class TournamentsAdminApi extends HttpApiGroup.make("tournamentsAdmin")
  .add(
    HttpApiEndpoint.post("create", "/api/admin/tournaments")
      .setPayload(strictBody(CreateTournament))
      .addSuccess(Tournament, { status: 201 })
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Creates a single-elimination tournament open to teams of any company. A slug already in use is a 409."
      )
  )
  .add(
    HttpApiEndpoint.post("addTeam", "/api/admin/tournaments/:id/teams")
      .setPath(Schema.Struct({ id: TournamentId }))
      .setPayload(strictBody(AddTournamentTeam))
      .addSuccess(TournamentTeam, { status: 201 })
      .addError(BadRequest)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Enters a team of a company, seeded after the teams entered before it. The captain must be a user of that company (400 otherwise). An unknown tournament or company is a 404; a started tournament or a team name already entered is a 409."
      )
  )
  .add(
    HttpApiEndpoint.post("start", "/api/admin/tournaments/:id/start")
      .setPath(Schema.Struct({ id: TournamentId }))
      .addSuccess(StartedTournament)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Starts the tournament and creates its first round. With a team count that is not a power of two, the bracket is filled up to the next power of two with byes, which go to the top seeds: a bye is a completed match with no team B, and its team plays in round 2. Seeds are paired so that seeds 1 and 2 can meet only in the final. Needs at least two teams; a tournament already started is a 409."
      )
  )
  .middleware(OperatorAuthentication)
  .annotate(OpenApi.Title, "Tournaments (operator)")
{}

/** Tenant routes: a bracket the tenant plays in, and reporting match results. */
export class TournamentsApi extends HttpApiGroup.make("tournaments")
  .add(
    HttpApiEndpoint.get("bracket", "/v1/tournaments/:slug")
      .setPath(Schema.Struct({ slug: Schema.String }))
      .addSuccess(TournamentBracket)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "The bracket of a tournament in which the caller's company has a team: teams by seed and every round created so far. Any other tournament is a 404. Needs the read scope."
      )
  )
  .add(
    HttpApiEndpoint.post("reportResult", "/api/tournament-matches/:id/result")
      .setPath(Schema.Struct({ id: TournamentMatchId }))
      .setPayload(strictBody(ReportMatchResult))
      .addSuccess(TournamentMatch)
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(Conflict)
      .annotate(
        OpenApi.Description,
        "Reports the result of a scheduled match in which the caller's company has a team (404 otherwise). Finalizes the match, eliminates the loser and sends tournament.match_completed to both teams' companies. Equal scores are a 400; a completed match is a 409. The next round is created by the tournament-advance job. Needs the write scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Tournaments")
{}
