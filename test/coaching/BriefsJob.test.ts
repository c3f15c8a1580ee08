import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { CoachingBriefs, CoachingBriefsLive } from "../../src/coaching/Briefs.ts"
import { catalog } from "../../src/events/Catalog.ts"
import { insertSubscription } from "../practice/PracticeFixtures.ts"
import { SmtpSink } from "../support/SmtpSink.ts"
import { createTenant } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"
import {
  briefDeliveries,
  briefRowCounts,
  briefsOf,
  insertScenario,
  insertScorecard,
  insertUser,
  type ScorecardFields
} from "./BriefsFixtures.ts"

/** Sunday 2026-05-17 18:00 in New York, when the scheduled run fires. */
const sundayEvening = Date.parse("2026-05-17T22:00:00.000Z")

// The service mails through the sink and reads weeks in New York time. The
// briefs service is also provided to the tests, so they can run the job on TestClock.
const SuiteLive = Layer.unwrapEffect(
  Effect.map(SmtpSink, (sink) =>
    CoachingBriefsLive.pipe(
      Layer.provideMerge(TestServerLive({
        smtpUrl: Option.some(Redacted.make(sink.url)),
        mailFrom: "Sales Lab <coaching@example.com>",
        coachingBriefsTimeZone: "America/New_York"
      }))
    ))
).pipe(Layer.provideMerge(SmtpSink.layer))

const renewal: ScorecardFields = {
  overall_score: 91,
  verdict: "pass",
  category_scores: { discovery: 9, objection_handling: 8, closing: 9 },
  best_line: "What would it cost you to wait another quarter?",
  worst_line: "We can probably do something on price.",
  next_drill: "holding price under pressure"
}
const coldCall: ScorecardFields = {
  overall_score: 64,
  verdict: "fail",
  category_scores: { discovery: 6, objection_handling: 5, closing: 7 },
  best_line: "Can I ask how you handle this today?",
  worst_line: "Sorry to bother you.",
  next_drill: "opening without apologising"
}
const discovery: ScorecardFields = {
  overall_score: 78,
  verdict: "pass",
  category_scores: { discovery: 8, objection_handling: 6, closing: 6 },
  best_line: "Who else signs off on this?",
  worst_line: "Our product does everything.",
  next_drill: "tying features to pain"
}
const lateSunday: ScorecardFields = {
  overall_score: 20,
  verdict: "fail",
  category_scores: { discovery: 1 },
  best_line: "Hello.",
  worst_line: "Bye.",
  next_drill: "anything at all"
}

/** A tenant with one rep who practised in the week of 2026-05-11 (New York), and subscriptions. */
const tenantWithRep = (name: string, scorecards: ReadonlyArray<readonly [string, ScorecardFields]>) =>
  Effect.gen(function*() {
    const tenant = yield* createTenant(name)
    const rep = yield* insertUser(tenant.companyId, `${name} Rep`)
    const scenarioId = yield* insertScenario(tenant.companyId, `${name} renewal`)
    for (const [createdAt, fields] of scorecards) {
      yield* insertScorecard({ companyId: tenant.companyId, userId: rep.id, scenarioId }, createdAt, fields)
    }
    const subscription = yield* insertSubscription(tenant.companyId)
    return { ...tenant, rep, scenarioId, subscription }
  })

const runJob = Effect.flatMap(CoachingBriefs, (briefs) => briefs.run)

describe("coaching-briefs job", () => {
  layer(SuiteLive, { timeout: "120 seconds" })((it) => {
    it.effect("mails and publishes one brief per rep", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        yield* TestClock.setTime(sundayEvening)

        const acme = yield* createTenant("Acme")
        const riley = yield* insertUser(acme.companyId, "Riley Rep")
        const sam = yield* insertUser(acme.companyId, "Sam Rep")
        const idle = yield* insertUser(acme.companyId, "Idle Rep")
        const renewalId = yield* insertScenario(acme.companyId, "Renewal with a skeptical CFO")
        const coldCallId = yield* insertScenario(acme.companyId, "Cold call to a VP of operations")
        const discoveryId = yield* insertScenario(acme.companyId, "Discovery with an IT director")
        const rileyAt = (scenarioId: string) => ({ companyId: acme.companyId, userId: riley.id, scenarioId })
        // Sunday 2026-05-10 23:30 in New York but Monday in UTC: the week before.
        yield* insertScorecard(rileyAt(coldCallId), "2026-05-11T03:30:00.000Z", lateSunday)
        yield* insertScorecard(rileyAt(renewalId), "2026-05-11T15:00:00.000Z", renewal)
        yield* insertScorecard(rileyAt(coldCallId), "2026-05-12T15:00:00.000Z", coldCall)
        yield* insertScorecard(rileyAt(discoveryId), "2026-05-17T21:00:00.000Z", discovery)
        yield* insertScorecard({ companyId: acme.companyId, userId: sam.id, scenarioId: renewalId }, "2026-05-13T15:00:00.000Z", renewal)
        yield* insertScorecard({ companyId: acme.companyId, userId: idle.id, scenarioId: renewalId }, "2026-05-04T15:00:00.000Z", renewal)

        const everything = yield* insertSubscription(acme.companyId)
        const briefsOnly = yield* insertSubscription(acme.companyId, { eventKinds: ["coaching.brief_delivered"] })
        const otherKinds = yield* insertSubscription(acme.companyId, { eventKinds: ["session.completed"] })
        const paused = yield* insertSubscription(acme.companyId, { status: "paused" })
        const globex = yield* tenantWithRep("Globex", [["2026-05-14T15:00:00.000Z", coldCall]])

        const summary = yield* runJob

        expect(summary).toEqual({ week_start: "2026-05-11", week_end: "2026-05-17", sent: 3, failed: 0 })

        const mails = yield* sink.messages
        expect(mails.map((mail) => mail.to[0]).sort()).toEqual([riley.email, sam.email, globex.rep.email].sort())
        const rileyMail = mails.find((mail) => mail.to[0] === riley.email)!
        expect(rileyMail.from).toBe("coaching@example.com")
        expect(rileyMail.subject).toBe("Your coaching brief for 2026-05-11 to 2026-05-17")
        expect(rileyMail.text).toBe(
          [
            "Hi Riley Rep,",
            "",
            "Steady week: 3 practice sessions, 2 passed, average score 78.",
            "",
            "Celebrate:",
            "- Passed Renewal with a skeptical CFO with a score of 91",
            "- Strong discovery: 7.7 out of 10",
            "- Best line: \"What would it cost you to wait another quarter?\"",
            "",
            "Coach:",
            "- Work on objection handling: 6.3 out of 10",
            "- Next drill: opening without apologising",
            "- Rework this line: \"Sorry to bother you.\"",
            "",
            "Sales Lab",
            ""
          ].join("\n")
        )

        const [rileyBrief] = yield* briefsOf([riley.id])
        expect(rileyBrief).toEqual({
          id: expect.any(String),
          company_id: acme.companyId,
          user_id: riley.id,
          week_start: "2026-05-11",
          week_end: "2026-05-17",
          summary: "Steady week: 3 practice sessions, 2 passed, average score 78.",
          celebrate: [
            "Passed Renewal with a skeptical CFO with a score of 91",
            "Strong discovery: 7.7 out of 10",
            "Best line: \"What would it cost you to wait another quarter?\""
          ],
          coach: [
            "Work on objection handling: 6.3 out of 10",
            "Next drill: opening without apologising",
            "Rework this line: \"Sorry to bother you.\""
          ],
          sent_at: new Date(sundayEvening),
          message_id: rileyMail.messageId
        })
        expect(yield* briefsOf([idle.id])).toEqual([])

        const deliveries = yield* briefDeliveries(everything)
        expect(deliveries).toHaveLength(2)
        const rileyDelivery = deliveries.find((row) => JSON.parse(row.body).user_id === riley.id)!
        const body = JSON.parse(rileyDelivery.body)
        expect(() => Schema.decodeUnknownSync(catalog["coaching.brief_delivered"].schema)(body)).not.toThrow()
        expect(body).toEqual({
          event_kind: "coaching.brief_delivered",
          company_id: acme.companyId,
          user_id: riley.id,
          brief_id: rileyBrief!.id,
          week_start: "2026-05-11",
          week_end: "2026-05-17",
          summary: "Steady week: 3 practice sessions, 2 passed, average score 78.",
          celebrate: [
            "Passed Renewal with a skeptical CFO with a score of 91",
            "Strong discovery: 7.7 out of 10",
            "Best line: \"What would it cost you to wait another quarter?\""
          ],
          coach: [
            "Work on objection handling: 6.3 out of 10",
            "Next drill: opening without apologising",
            "Rework this line: \"Sorry to bother you.\""
          ]
        })
        expect(rileyDelivery.event_kind).toBe("coaching.brief_delivered")
        expect(rileyDelivery.delivery_id).toBe(`coaching.brief_delivered:${rileyBrief!.id}:${everything}`)

        expect(yield* briefDeliveries(briefsOnly)).toHaveLength(2)
        expect(yield* briefDeliveries(otherKinds)).toEqual([])
        expect(yield* briefDeliveries(paused)).toEqual([])
        const globexDeliveries = yield* briefDeliveries(globex.subscription)
        expect(globexDeliveries.map((row) => JSON.parse(row.body).company_id)).toEqual([globex.companyId])
      }))

    it.effect("re-run sends and publishes nothing", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        yield* TestClock.setTime(sundayEvening)
        const tenant = yield* tenantWithRep("Initech", [["2026-05-12T15:00:00.000Z", discovery]])
        yield* runJob
        const mailsBefore = (yield* sink.messages).length
        const rowsBefore = yield* briefRowCounts

        yield* TestClock.adjust("1 hour")
        const summary = yield* runJob

        expect(summary.sent).toBe(0)
        expect((yield* sink.messages).length).toBe(mailsBefore)
        expect(yield* briefRowCounts).toEqual(rowsBefore)
        expect(yield* briefsOf([tenant.rep.id])).toHaveLength(1)
        expect(yield* briefDeliveries(tenant.subscription)).toHaveLength(1)
      }))

    it.effect("rejected mail stores and fires nothing", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        yield* TestClock.setTime(sundayEvening)
        const tenant = yield* tenantWithRep("Umbrella", [["2026-05-15T15:00:00.000Z", renewal]])
        const rowsBefore = yield* briefRowCounts
        const rejectedBefore = yield* sink.rejectedCount

        yield* sink.setRejecting(true)
        const summary = yield* runJob.pipe(Effect.ensuring(sink.setRejecting(false)))

        expect(summary).toEqual({ week_start: "2026-05-11", week_end: "2026-05-17", sent: 0, failed: 1 })
        expect(yield* sink.rejectedCount).toBe(rejectedBefore + 1)
        expect(yield* briefRowCounts).toEqual(rowsBefore)
        expect(yield* briefDeliveries(tenant.subscription)).toEqual([])

        const retry = yield* runJob

        expect(retry.sent).toBe(1)
        expect(yield* briefsOf([tenant.rep.id])).toHaveLength(1)
        expect(yield* briefDeliveries(tenant.subscription)).toHaveLength(1)
      }))

    it.effect("failure after the insert rolls back", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sink = yield* SmtpSink
        yield* TestClock.setTime(sundayEvening)
        const tenant = yield* tenantWithRep("Hooli", [["2026-05-16T15:00:00.000Z", coldCall]])
        const rowsBefore = yield* briefRowCounts
        const mailsBefore = (yield* sink.messages).length

        // Publishing inserts into events after the brief row, so this fails the transaction after the insert.
        yield* sql`
          CREATE FUNCTION reject_brief_events() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.kind = 'coaching.brief_delivered' THEN RAISE EXCEPTION 'brief events rejected by test'; END IF;
            RETURN NEW;
          END $$`
        yield* sql`
          CREATE TRIGGER reject_brief_events BEFORE INSERT ON events
          FOR EACH ROW EXECUTE FUNCTION reject_brief_events()`
        const summary = yield* runJob.pipe(
          Effect.ensuring(Effect.orDie(Effect.zipRight(
            sql`DROP TRIGGER reject_brief_events ON events`,
            sql`DROP FUNCTION reject_brief_events()`
          )))
        )

        expect(summary.failed).toBe(1)
        expect(yield* briefRowCounts).toEqual(rowsBefore)
        expect(yield* briefsOf([tenant.rep.id])).toEqual([])
        // The mail went out before the failed commit, so the next run mails the brief again.
        expect((yield* sink.messages).length).toBe(mailsBefore + 1)

        const retry = yield* runJob

        expect(retry.sent).toBe(1)
        expect((yield* sink.messages).length).toBe(mailsBefore + 2)
        expect(yield* briefsOf([tenant.rep.id])).toHaveLength(1)
        expect(yield* briefDeliveries(tenant.subscription)).toHaveLength(1)
      }))

    it.effect("overlapping runs mail once", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        yield* TestClock.setTime(sundayEvening)
        const tenant = yield* tenantWithRep("Vandelay", [["2026-05-13T15:00:00.000Z", discovery]])
        const mailsBefore = (yield* sink.messages).length

        const summaries = yield* Effect.all([runJob, runJob], { concurrency: "unbounded" })

        expect(summaries.map((summary) => summary.sent).sort()).toEqual([0, 1])
        expect((yield* sink.messages).filter((mail) => mail.to[0] === tenant.rep.email)).toHaveLength(1)
        expect((yield* sink.messages).length).toBe(mailsBefore + 1)
        expect(yield* briefDeliveries(tenant.subscription)).toHaveLength(1)
      }))

    it.effect("Monday run covers the same week", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        // Monday 2026-05-18 09:00 in New York.
        yield* TestClock.setTime(Date.parse("2026-05-18T13:00:00.000Z"))
        const tenant = yield* tenantWithRep("Stark", [["2026-05-17T23:00:00.000Z", renewal]])

        const summary = yield* runJob

        expect(summary.week_start).toBe("2026-05-11")
        expect(summary.sent).toBe(1)
        expect((yield* sink.messages).filter((mail) => mail.to[0] === tenant.rep.email)).toHaveLength(1)
        expect((yield* briefsOf([tenant.rep.id]))[0]!.sent_at).toEqual(new Date("2026-05-18T13:00:00.000Z"))
      }))

    it.effect("week follows when the call ended", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // Monday 2026-05-18 09:00 in New York: the brief covers the week of 2026-05-11.
        yield* TestClock.setTime(Date.parse("2026-05-18T13:00:00.000Z"))
        const scoredLate = yield* tenantWithRep("Wayne", [["2026-05-17T23:00:00.000Z", renewal]])
        const endedBefore = yield* tenantWithRep("Kent", [["2026-05-10T23:00:00.000Z", coldCall]])
        // The first call ended in the week but was scored after it; the second ended the week before but was scored in it.
        yield* sql`UPDATE scorecards SET created_at = '2026-05-18T12:00:00.000Z' WHERE user_id = ${scoredLate.rep.id}`
        yield* sql`UPDATE scorecards SET created_at = '2026-05-12T12:00:00.000Z' WHERE user_id = ${endedBefore.rep.id}`

        yield* runJob

        expect(yield* briefsOf([scoredLate.rep.id])).toHaveLength(1)
        expect(yield* briefsOf([endedBefore.rep.id])).toHaveLength(0)
      }))
  })
})
