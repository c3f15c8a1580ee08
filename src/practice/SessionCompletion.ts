import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { Assignments } from "../assignments/Assignments.ts"
import { Events } from "../events/Events.ts"
import { Badges } from "../gamification/Badges.ts"
import { SkillSnapshots } from "../warehouse/SkillSnapshots.ts"
import { type PostCallOutcome, ScorecardId } from "./Api.ts"
import { companyIdOf, endedAtOf, type PostCallTranscription, sessionIdOf } from "./PostCallPayload.ts"
import { PracticeRepo, type ScorecardRow } from "./PracticeRepo.ts"
import { ScorecardGrader } from "./ScorecardGrader.ts"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const ignored: PostCallOutcome = { status: "ignored" }

/**
 * Completes a practice session from a verified post-call transcription: in
 * one transaction it locks the session row, marks it completed, grades the
 * call, stores the scorecard and publishes `session.completed` and
 * `session.scorecard_finalized`. In the same transaction it completes the
 * rep's oldest open assignment on the scenario (`assignment.completed`) and
 * awards the badges the scorecard earns (`badge.awarded`). A failure at any
 * step rolls all of it back.
 * The row lock makes a concurrent copy of the same webhook wait and then
 * return `duplicate`.
 */
export class SessionCompletion extends Effect.Service<SessionCompletion>()("saleslab/SessionCompletion", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* PracticeRepo
    const events = yield* Events
    const grader = yield* ScorecardGrader
    const assignments = yield* Assignments
    const badges = yield* Badges
    const skillSnapshots = yield* SkillSnapshots

    const completeLocked = (sessionId: string, payload: PostCallTranscription) =>
      Effect.gen(function*() {
        const session = yield* repo.lockSession(sessionId)
        const claimedCompany = companyIdOf(payload)
        if (session === undefined || (claimedCompany !== undefined && claimedCompany !== session.company_id)) {
          yield* Effect.logWarning("Post-call webhook names an unknown practice session")
          return ignored
        }

        if (session.status === "completed") {
          const scorecardId = yield* repo.findScorecardId(session.id)
          if (scorecardId === undefined) {
            yield* Effect.logError("Completed practice session has no scorecard")
            return ignored
          }
          yield* Effect.logInfo("Post-call webhook repeated for a completed practice session")
          return { status: "duplicate", session_id: session.id, scorecard_id: scorecardId } as const
        }

        const now = new Date(yield* Clock.currentTimeMillis)
        const endedAt = endedAtOf(payload) ?? now
        yield* repo.completeSession(session.id, endedAt, payload.data.conversation_id)

        const grade = yield* grader.grade({
          analysis: payload.data.analysis,
          transcript: payload.data.transcript,
          passMark: session.pass_mark
        })
        const scorecard: ScorecardRow = {
          id: ScorecardId.make(randomUUID()),
          session_id: session.id,
          company_id: session.company_id,
          user_id: session.user_id,
          scenario_id: session.scenario_id,
          overall_score: grade.overallScore,
          verdict: grade.verdict,
          headline: grade.headline,
          category_scores: grade.categoryScores,
          best_line: grade.bestLine,
          worst_line: grade.worstLine,
          next_drill: grade.nextDrill,
          created_at: now
        }
        yield* repo.insertScorecard(scorecard)
        yield* skillSnapshots.takeAfter({
          scorecardId: scorecard.id,
          companyId: scorecard.company_id,
          userId: scorecard.user_id,
          scoredAt: scorecard.created_at
        })

        yield* events.publish("session.completed", session.company_id, endedAt, {
          session: { id: session.id, user_id: session.user_id, scenario_id: session.scenario_id, ended_at: endedAt }
        })
        yield* events.publish("session.scorecard_finalized", scorecard.company_id, scorecard.created_at, {
          session_id: scorecard.session_id,
          user_id: scorecard.user_id,
          scorecard: {
            id: scorecard.id,
            overall_score: scorecard.overall_score,
            verdict: scorecard.verdict,
            headline: scorecard.headline,
            category_scores: scorecard.category_scores,
            best_line: scorecard.best_line,
            worst_line: scorecard.worst_line,
            next_drill: scorecard.next_drill
          }
        })

        yield* assignments.completeOldestOpen({
          companyId: scorecard.company_id,
          userId: scorecard.user_id,
          scenarioId: scorecard.scenario_id,
          sessionId: scorecard.session_id,
          scorecardId: scorecard.id,
          overallScore: scorecard.overall_score,
          scoredAt: scorecard.created_at
        })
        yield* badges.awardFor({
          companyId: scorecard.company_id,
          userId: scorecard.user_id,
          sessionId: scorecard.session_id,
          endedAt,
          overallScore: scorecard.overall_score,
          verdict: scorecard.verdict,
          scoredAt: scorecard.created_at
        })

        yield* Effect.logInfo("Practice session completed").pipe(
          Effect.annotateLogs({ scorecardId: scorecard.id, overallScore: scorecard.overall_score })
        )
        return { status: "processed", session_id: session.id, scorecard_id: scorecard.id } as const
      })

    /** Completes the session the transcription names; `ignored` when it names none that exists. */
    const complete = (payload: PostCallTranscription) => {
      const sessionId = sessionIdOf(payload)
      const annotations = { conversationId: payload.data.conversation_id, sessionId: sessionId ?? "none" }
      return Effect.gen(function*() {
        if (sessionId === undefined || !uuidPattern.test(sessionId)) {
          yield* Effect.logWarning("Post-call webhook names an unknown practice session")
          return ignored
        }
        return yield* sql.withTransaction(completeLocked(sessionId, payload))
      }).pipe(
        Effect.annotateLogs(annotations),
        Effect.withSpan("SessionCompletion.complete", { attributes: annotations })
      )
    }

    return { complete } as const
  }),
  dependencies: [PracticeRepo.Default, Assignments.Default, Badges.Default, SkillSnapshots.Default]
}) {}
