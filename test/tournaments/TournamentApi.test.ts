import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cron, Effect, Schema, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { catalog } from "../../src/events/Catalog.ts"
import { TournamentAdvance } from "../../src/tournaments/TournamentAdvance.ts"
import { createTenantWithUser, insertSubscription } from "../practice/PracticeFixtures.ts"
import { sendAs } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"
import {
  addTeam,
  asOperator,
  createTournament,
  deliveriesOf,
  insertUser,
  isEliminated,
  matchRow,
  reportResult,
  roundMatches,
  startTournament
} from "./TournamentFixtures.ts"

// Scheduled at midnight on January 1, so that no scheduled run advances brackets while the tests run.
const rarely = Cron.unsafeParse("0 0 1 1 *", "UTC")

const endedAt = "2026-05-19T13:42:08.123Z"

/** Creates a tournament with one team of `first` (seed 1) and one of `second` (seed 2), started. */
const twoTeamFinal = (slug: string, first: { companyId: string; userId: string }, second: { companyId: string; userId: string }) =>
  Effect.gen(function*() {
    const tournamentId = yield* createTournament(slug, "Spring 2026 Cup")
    const teamA = yield* addTeam(tournamentId, first.companyId, "Closers", first.userId)
    const teamB = yield* addTeam(tournamentId, second.companyId, "Openers", second.userId)
    const [match] = yield* startTournament(tournamentId)
    return { tournamentId, teamA, teamB, matchId: match!.id as string }
  })

/** Sleeps on the real clock, because a sleep on the test clock would not end while the route's job runs. */
const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))

/** Polls for up to 10 seconds until round `round` of the tournament has matches. */
const waitForRound = (tournamentId: string, round: number) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 200; attempt++) {
      const matches = yield* roundMatches(tournamentId, round)
      if (matches.length > 0) return matches
      yield* realPause
    }
    return yield* Effect.fail(new Error(`round ${round} was not created within 10 seconds`))
  })

const advanceJob = Effect.flatMap(TournamentAdvance, (job) => job.run).pipe(Effect.provide(TournamentAdvance.Default))

describe("Tournaments", () => {
  it.layer(TestServerLive({ tournamentAdvanceSchedule: rarely, recomputeScoresSchedule: rarely }), {
    timeout: "60 seconds"
  })((it) => {
    it.effect("tournament creation validates input", () =>
      Effect.gen(function*() {
        const badSlug = yield* asOperator("POST", "/api/admin/tournaments", { slug: "Spring Cup!", title: "Cup" })
        expect(badSlug.status).toBe(400)
        expect(JSON.stringify(badSlug.body)).toContain("slug")

        const blankTitle = yield* asOperator("POST", "/api/admin/tournaments", { slug: "blank-title", title: "  " })
        expect(blankTitle.status).toBe(400)
        expect(JSON.stringify(blankTitle.body)).toContain("title")

        const created = yield* asOperator("POST", "/api/admin/tournaments", { slug: "autumn-cup", title: " Autumn Cup " })
        expect(created.status).toBe(201)
        expect(created.body).toMatchObject({
          slug: "autumn-cup",
          title: "Autumn Cup",
          format: "single_elimination",
          status: "registering",
          winner_team_id: null,
          completed_at: null
        })

        const duplicate = yield* asOperator("POST", "/api/admin/tournaments", { slug: "autumn-cup", title: "Again" })
        expect(duplicate.status).toBe(409)
        expect(duplicate.body._tag).toBe("Conflict")

        const tenant = yield* createTenantWithUser("Acme")
        const asTenant = yield* sendAs(tenant.token, "POST", "/api/admin/tournaments", { slug: "tenant-cup", title: "T" })
        expect(asTenant.status).toBe(401)
      }))

    it.effect("teams need a captain of their company", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const tournamentId = yield* createTournament("captain-cup")
        const path = `/api/admin/tournaments/${tournamentId}/teams`

        const unknownTournament = yield* asOperator("POST", `/api/admin/tournaments/${randomUUID()}/teams`, {
          company_id: acme.companyId,
          name: "Closers",
          captain_user_id: acme.userId
        })
        expect(unknownTournament.status).toBe(404)

        const unknownCompany = yield* asOperator("POST", path, {
          company_id: randomUUID(),
          name: "Closers",
          captain_user_id: acme.userId
        })
        expect(unknownCompany.status).toBe(404)

        const foreignCaptain = yield* asOperator("POST", path, {
          company_id: acme.companyId,
          name: "Closers",
          captain_user_id: globex.userId
        })
        expect(foreignCaptain.status).toBe(400)
        expect(foreignCaptain.body.field).toBe("captain_user_id")

        const first = yield* asOperator("POST", path, { company_id: acme.companyId, name: "Closers", captain_user_id: acme.userId })
        expect(first.status).toBe(201)
        expect(first.body).toMatchObject({
          tournament_id: tournamentId,
          company_id: acme.companyId,
          name: "Closers",
          captain_user_id: acme.userId,
          seed: 1,
          is_eliminated: false
        })
        const second = yield* asOperator("POST", path, { company_id: globex.companyId, name: "Openers", captain_user_id: globex.userId })
        expect(second.body.seed).toBe(2)

        const sameName = yield* asOperator("POST", path, { company_id: globex.companyId, name: "Closers", captain_user_id: globex.userId })
        expect(sameName.status).toBe(409)
      }))

    it.effect("three teams start with a bye", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const tournamentId = yield* createTournament("bye-cup")

        const alone = yield* asOperator("POST", `/api/admin/tournaments/${tournamentId}/start`)
        expect(alone.status).toBe(409)

        const seed1 = yield* addTeam(tournamentId, acme.companyId, "One", acme.userId)
        const seed2 = yield* addTeam(tournamentId, acme.companyId, "Two", yield* insertUser(acme.companyId))
        const seed3 = yield* addTeam(tournamentId, acme.companyId, "Three", yield* insertUser(acme.companyId))
        const matches = yield* startTournament(tournamentId)

        expect(matches).toHaveLength(2)
        expect(matches[0]).toMatchObject({
          round: 1,
          position: 0,
          team_a_id: seed1,
          team_b_id: null,
          status: "completed",
          winner_team_id: seed1
        })
        expect(matches[1]).toMatchObject({
          round: 1,
          position: 1,
          team_a_id: seed2,
          team_b_id: seed3,
          status: "scheduled",
          winner_team_id: null
        })

        const again = yield* asOperator("POST", `/api/admin/tournaments/${tournamentId}/start`)
        expect(again.status).toBe(409)
        const late = yield* asOperator("POST", `/api/admin/tournaments/${tournamentId}/teams`, {
          company_id: acme.companyId,
          name: "Late",
          captain_user_id: acme.userId
        })
        expect(late.status).toBe(409)

        const bye = yield* reportResult(acme, matches[0]!.id, 3, 1)
        expect(bye.status).toBe(409)
      }))

    it.effect("cross-company result reaches both tenants", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const initech = yield* createTenantWithUser("Initech")
        const acmeSubscription = yield* insertSubscription(acme.companyId)
        const acmeFiltered = yield* insertSubscription(acme.companyId, { eventKinds: ["session.completed"] })
        const globexSubscription = yield* insertSubscription(globex.companyId, { eventKinds: ["tournament.match_completed"] })
        const initechSubscription = yield* insertSubscription(initech.companyId)
        const { matchId, teamA, teamB } = yield* twoTeamFinal("spring-2026-cup", acme, globex)

        yield* TestClock.setTime(Date.parse(endedAt))
        const response = yield* reportResult(globex, matchId, 71, 87)

        expect(response.status, JSON.stringify(response.body)).toBe(200)
        expect(response.body).toMatchObject({
          id: matchId,
          status: "completed",
          team_a_score: 71,
          team_b_score: 87,
          winner_team_id: teamB,
          reported_by_user_id: globex.userId,
          ended_at: endedAt
        })
        expect(yield* isEliminated(teamA)).toBe(true)
        expect(yield* isEliminated(teamB)).toBe(false)

        const expected = (companyId: string) => ({
          event_kind: "tournament.match_completed",
          company_id: companyId,
          match_id: matchId,
          tournament: { slug: "spring-2026-cup", title: "Spring 2026 Cup" },
          winner_team_id: teamB,
          loser_team_id: teamA,
          team_a_id: teamA,
          team_b_id: teamB,
          team_a_score: 71,
          team_b_score: 87,
          reported_by_user_id: globex.userId,
          winner_captain_user_id: globex.userId,
          ended_at: endedAt,
          delivery_id: `tournament_match.${matchId}.completed`
        })
        for (const [subscription, companyId] of [[acmeSubscription, acme.companyId], [globexSubscription, globex.companyId]]) {
          const deliveries = yield* deliveriesOf(subscription!)
          expect(deliveries).toHaveLength(1)
          expect(deliveries[0]!.deliveryId).toBe(`tournament_match.${matchId}.completed`)
          expect(deliveries[0]!.kind).toBe("tournament.match_completed")
          expect(() => Schema.decodeUnknownSync(catalog["tournament.match_completed"].schema)(deliveries[0]!.body)).not
            .toThrow()
          expect(deliveries[0]!.body).toEqual(expected(companyId!))
        }
        expect(yield* deliveriesOf(acmeFiltered)).toEqual([])
        expect(yield* deliveriesOf(initechSubscription)).toEqual([])

        const repeated = yield* reportResult(globex, matchId, 71, 87)
        expect(repeated.status).toBe(409)
        const fromAcme = yield* reportResult(acme, matchId, 90, 10)
        expect(fromAcme.status).toBe(409)
        expect(yield* deliveriesOf(acmeSubscription)).toHaveLength(1)
        expect(yield* deliveriesOf(globexSubscription)).toHaveLength(1)
        expect((yield* matchRow(matchId)).team_a_score).toBe(71)
      }))

    it.effect("same-company match publishes once", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const subscription = yield* insertSubscription(acme.companyId)
        const otherCaptain = { companyId: acme.companyId, userId: yield* insertUser(acme.companyId) }
        const { matchId, teamA } = yield* twoTeamFinal("house-cup", acme, otherCaptain)

        const response = yield* reportResult(acme, matchId, 5, 2)
        expect(response.status).toBe(200)
        expect(response.body.winner_team_id).toBe(teamA)

        const deliveries = yield* deliveriesOf(subscription)
        expect(deliveries).toHaveLength(1)
        expect(deliveries[0]!.body.company_id).toBe(acme.companyId)
        expect(deliveries[0]!.body.winner_captain_user_id).toBe(acme.userId)

        const sql = yield* SqlClient.SqlClient
        const events = yield* sql<{ count: number }>`
          SELECT count(*)::int AS count FROM events WHERE kind = 'tournament.match_completed' AND natural_key = ${matchId}`
        expect(events[0]!.count).toBe(1)
      }))

    it.effect("invalid reports write nothing", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const outsider = yield* createTenantWithUser("Initech")
        const readOnly = yield* createTenantWithUser("Acme readers", ["read"])
        const subscription = yield* insertSubscription(acme.companyId)
        const { matchId, teamA } = yield* twoTeamFinal("strict-cup", acme, globex)

        const tie = yield* reportResult(acme, matchId, 3, 3)
        expect(tie.status).toBe(400)
        expect(tie.body.field).toBe("team_b_score")

        const negative = yield* reportResult(acme, matchId, -1, 3)
        expect(negative.status).toBe(400)
        expect(JSON.stringify(negative.body)).toContain("team_a_score")

        const foreignReporter = yield* reportResult(acme, matchId, 3, 1, globex.userId)
        expect(foreignReporter.status).toBe(400)
        expect(foreignReporter.body.field).toBe("reported_by_user_id")

        expect((yield* reportResult(outsider, matchId, 3, 1)).status).toBe(404)
        expect((yield* reportResult(acme, randomUUID(), 3, 1)).status).toBe(404)
        expect((yield* reportResult(readOnly, matchId, 3, 1)).status).toBe(403)

        expect((yield* matchRow(matchId)).status).toBe("scheduled")
        expect(yield* isEliminated(teamA)).toBe(false)
        expect(yield* deliveriesOf(subscription)).toEqual([])
      }))

    it.effect("failed publish rolls the result back", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const subscription = yield* insertSubscription(globex.companyId)
        const { matchId, teamA, teamB } = yield* twoTeamFinal("rollback-cup", acme, globex)

        // The loser's delivery is written last, so this fails after the match update and the winner's event.
        yield* sql.unsafe(`
          CREATE FUNCTION reject_tournament_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'delivery rejected by test trigger'; END $$;
          CREATE TRIGGER reject_tournament_delivery BEFORE INSERT ON webhook_deliveries
          FOR EACH ROW WHEN (NEW.event_kind = 'tournament.match_completed')
          EXECUTE FUNCTION reject_tournament_delivery();`)
        const failed = yield* reportResult(acme, matchId, 9, 4)
        yield* sql.unsafe(`
          DROP TRIGGER reject_tournament_delivery ON webhook_deliveries;
          DROP FUNCTION reject_tournament_delivery();`)

        expect(failed.status).toBe(500)
        expect(JSON.stringify(failed.body)).not.toContain("trigger")
        expect((yield* matchRow(matchId)).status).toBe("scheduled")
        expect(yield* isEliminated(teamB)).toBe(false)
        const events = yield* sql`SELECT 1 FROM events WHERE natural_key = ${matchId}`
        expect(events).toEqual([])

        const retried = yield* reportResult(acme, matchId, 9, 4)
        expect(retried.status).toBe(200)
        expect(retried.body.winner_team_id).toBe(teamA)
        expect(yield* deliveriesOf(subscription)).toHaveLength(1)
      }))

    it.effect("bracket visible to participants only", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const outsider = yield* createTenantWithUser("Initech")
        const { matchId, teamA, teamB, tournamentId } = yield* twoTeamFinal("visible-cup", acme, globex)

        const bracket = yield* sendAs(acme.token, "GET", "/v1/tournaments/visible-cup")
        expect(bracket.status).toBe(200)
        expect(bracket.body).toMatchObject({
          id: tournamentId,
          slug: "visible-cup",
          status: "in_progress",
          teams: [
            { id: teamA, name: "Closers", seed: 1, captain_user_id: acme.userId, is_eliminated: false, is_own_team: true },
            { id: teamB, name: "Openers", seed: 2, captain_user_id: globex.userId, is_eliminated: false, is_own_team: false }
          ],
          rounds: [{ round: 1, matches: [{ id: matchId, team_a_id: teamA, team_b_id: teamB, status: "scheduled" }] }]
        })
        expect(bracket.body.rounds[0].matches[0]).not.toHaveProperty("reported_by_user_id")

        expect((yield* sendAs(outsider.token, "GET", "/v1/tournaments/visible-cup")).status).toBe(404)
        expect((yield* sendAs(acme.token, "GET", "/v1/tournaments/no-such-cup")).status).toBe(404)
      }))

    it.effect("advance job creates each round once", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const globex = yield* createTenantWithUser("Globex")
        const tournamentId = yield* createTournament("advance-cup")
        const teams = [
          yield* addTeam(tournamentId, acme.companyId, "A1", acme.userId),
          yield* addTeam(tournamentId, globex.companyId, "G1", globex.userId),
          yield* addTeam(tournamentId, acme.companyId, "A2", yield* insertUser(acme.companyId)),
          yield* addTeam(tournamentId, globex.companyId, "G2", yield* insertUser(globex.companyId))
        ]
        const round1 = yield* startTournament(tournamentId)
        // Seeds 1 v 4 and 2 v 3.
        expect(round1.map((match) => [match.team_a_id, match.team_b_id])).toEqual([[teams[0], teams[3]], [teams[1], teams[2]]])

        expect((yield* reportResult(acme, round1[0]!.id, 10, 4)).status).toBe(200)
        expect((yield* advanceJob).roundsCreated).toBe(0)
        expect(yield* roundMatches(tournamentId, 2)).toEqual([])

        expect((yield* reportResult(globex, round1[1]!.id, 2, 8)).status).toBe(200)
        expect((yield* advanceJob).roundsCreated).toBe(1)
        expect((yield* advanceJob).roundsCreated).toBe(0)
        const round2 = yield* roundMatches(tournamentId, 2)
        expect(round2).toHaveLength(1)
        expect(round2[0]).toMatchObject({ team_a_id: teams[0], team_b_id: teams[2], status: "scheduled" })

        expect((yield* reportResult(acme, round2[0]!.id, 1, 6)).status).toBe(200)
        expect((yield* advanceJob).completed).toBe(1)
        expect((yield* advanceJob).completed).toBe(0)
        expect(yield* roundMatches(tournamentId, 3)).toEqual([])

        const bracket = yield* sendAs(acme.token, "GET", "/v1/tournaments/advance-cup")
        expect(bracket.body.status).toBe("completed")
        expect(bracket.body.winner_team_id).toBe(teams[2])
        expect(bracket.body.rounds.map((round: { round: number }) => round.round)).toEqual([1, 2])
        expect(bracket.body.teams.filter((team: { is_eliminated: boolean }) => !team.is_eliminated)).toHaveLength(1)
      }))

    it.effect("advance job runs from the cron route", () =>
      Effect.gen(function*() {
        const acme = yield* createTenantWithUser("Acme")
        const tournamentId = yield* createTournament("cron-cup")
        yield* addTeam(tournamentId, acme.companyId, "One", acme.userId)
        yield* addTeam(tournamentId, acme.companyId, "Two", yield* insertUser(acme.companyId))
        yield* addTeam(tournamentId, acme.companyId, "Three", yield* insertUser(acme.companyId))
        const round1 = yield* startTournament(tournamentId)
        expect((yield* reportResult(acme, round1[1]!.id, 4, 5)).status).toBe(200)

        const started = yield* asOperator("POST", "/api/cron/tournament-advance")
        expect(started.status).toBe(202)
        const final = yield* waitForRound(tournamentId, 2)
        expect(final).toHaveLength(1)
        expect(final[0]!.team_a_id).toBe(round1[0]!.team_a_id)
        expect(final[0]!.team_b_id).toBe(round1[1]!.team_b_id)
      }))
  })
})
