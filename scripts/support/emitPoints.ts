/**
 * One driver per event kind for the demo: each calls the kind's real emit
 * point over HTTP, as the system that causes the event would, and returns
 * the deliveries the local receiver should get. Every driver works with a
 * rep of its own, so that drivers run in any order without sharing state.
 */
import { randomBytes } from "node:crypto"
import Stripe from "stripe"
import type { EventKind } from "../../src/events/EventKinds.ts"
import { type ApiClient, type DemoTenant, requestTimeoutMs, startPracticeCall } from "./api.ts"
import { loadPostCallSample, type PostCallChanges, postCallBodyFor, postSignedPostCall } from "./postCall.ts"

/** Service settings that some emit points need the demo to know. */
export type DemoSetting = "ELEVENLABS_WEBHOOK_SECRET" | "STRIPE_WEBHOOK_SECRET"

/** The inputs of a driver: the service, a tenant subscribed to the chosen kinds, and the settings it declared. */
export interface DemoContext {
  readonly baseUrl: string
  readonly tenant: DemoTenant
  /** Client with the tenant's admin token. */
  readonly api: ApiClient
  /** Client with the operator token. */
  readonly operator: ApiClient
  /** Value of a setting the driver listed in `settings`. */
  readonly setting: (name: DemoSetting) => string
  /** Prints a line that describes the next request. */
  readonly step: (line: string) => void
}

/** A delivery the receiver should get: its kind and a predicate on the parsed body that identifies it. */
export interface ExpectedDelivery {
  readonly kind: EventKind
  /** The body fields that identify it, for messages, such as `user_id 9b2e...`. */
  readonly identifiedBy: string
  readonly matches: (body: Record<string, unknown>) => boolean
}

/**
 * A driver: the settings it needs and the requests that fire its kinds. A
 * driver shared by several kinds fires all of them at once.
 */
export interface EmitPointDriver {
  readonly settings: ReadonlyArray<DemoSetting>
  /** Returns why the driver cannot fire its kinds now, or undefined when it can. */
  readonly unavailableReason?: () => string | undefined
  readonly fire: (context: DemoContext) => Promise<ReadonlyArray<ExpectedDelivery>>
}

const shortId = () => randomBytes(4).toString("hex")

/** Creates a rep of the demo tenant and returns its id. */
const createRep = async (context: DemoContext, name: string): Promise<string> => {
  const suffix = shortId()
  const user = await context.api.request<{ id: string }>("POST", "/v1/users", 201, {
    email: `${name.toLowerCase().replace(/\s+/g, "-")}-${suffix}@example.com`,
    name,
    role: "rep"
  })
  return user.id
}

/**
 * Starts a practice call for `userId` on the tenant's scenario and posts its
 * signed post-call webhook, the sample with `changes`. Returns the session
 * id.
 */
const completePracticeCall = async (
  context: DemoContext,
  userId: string,
  changes: PostCallChanges = {}
): Promise<string> => {
  const call = await startPracticeCall(context.api, context.tenant.scenarioId, userId)
  const body = postCallBodyFor(loadPostCallSample(), call, changes)
  const response = await postSignedPostCall(context.baseUrl, context.setting("ELEVENLABS_WEBHOOK_SECRET"), body)
  if (response.status !== 200) {
    throw new Error(`POST /api/webhooks/elevenlabs returned ${response.status}: ${response.text.slice(0, 300)}`)
  }
  return call.sessionId
}

const field = (body: Record<string, unknown>, name: string) => body[name]

/**
 * session.completed and session.scorecard_finalized: one practice call and
 * its post-call webhook, which emits both.
 */
const sessionDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Session Rep")
    context.step("Starting a practice call and posting its signed post-call webhook")
    const sessionId = await completePracticeCall(context, userId)
    return [
      {
        kind: "session.completed",
        identifiedBy: `session.id ${sessionId}`,
        matches: (body) => (field(body, "session") as { id?: unknown } | undefined)?.id === sessionId
      },
      {
        kind: "session.scorecard_finalized",
        identifiedBy: `session_id ${sessionId}`,
        matches: (body) => field(body, "session_id") === sessionId
      }
    ]
  }
}

/** assignment.completed: an assignment, then a scored practice call of the same rep on the same scenario. */
const assignmentDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Assigned Rep")
    context.step("Assigning the scenario through POST /v1/assignments")
    const assignment = await context.api.request<{ id: string }>("POST", "/v1/assignments", 201, {
      user_id: userId,
      scenario_id: context.tenant.scenarioId
    })
    context.step("Completing a practice call on that scenario")
    await completePracticeCall(context, userId)
    return [{
      kind: "assignment.completed",
      identifiedBy: `assignment_id ${assignment.id}`,
      matches: (body) => field(body, "assignment_id") === assignment.id
    }]
  }
}

/** badge.awarded: a new rep's first passing scorecard earns `first_pass`. */
const badgeDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Badge Rep")
    context.step("Completing a new rep's first practice call, scored 78 against a pass mark of 70")
    await completePracticeCall(context, userId)
    return [{
      kind: "badge.awarded",
      identifiedBy: `user_id ${userId}, badge_slug first_pass`,
      matches: (body) => field(body, "user_id") === userId && field(body, "badge_slug") === "first_pass"
    }]
  }
}

const dayMillis = 86_400_000

/**
 * coaching.streak_broken: practice calls that ended four and three days ago
 * make a two-day streak, which today's check-in finds broken.
 */
const streakDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Streak Rep")
    context.step("Completing practice calls that ended 4 and 3 days ago: a 2-day streak")
    const now = Date.now()
    await completePracticeCall(context, userId, { endedAt: new Date(now - 4 * dayMillis) })
    await completePracticeCall(context, userId, { endedAt: new Date(now - 3 * dayMillis) })
    context.step("Checking in through POST /api/coaching/streak")
    const result = await context.api.request<{ broke_streak: boolean }>("POST", "/api/coaching/streak", 200, {
      user_id: userId
    })
    if (!result.broke_streak) throw new Error("The check-in did not find the 2-day streak broken.")
    return [{
      kind: "coaching.streak_broken",
      identifiedBy: `user_id ${userId}`,
      matches: (body) => field(body, "user_id") === userId
    }]
  }
}

/** real_call.imported: a Gong call imported through the integrations route. */
const callImportDriver: EmitPointDriver = {
  settings: [],
  fire: async (context) => {
    context.step("Importing a Gong call through POST /api/integrations/calls")
    const imported = await context.api.request<{ ingest_id: string }>("POST", "/api/integrations/calls", 201, {
      source_url: `https://app.gong.io/call?id=demo-${shortId()}`,
      source_vendor: "gong",
      transcript: [
        { speaker: "rep", text: "Thanks for making time today." },
        { speaker: "buyer", text: "We already have a vendor for this." },
        { speaker: "rep", text: "Sure, but ours is better." },
        { speaker: "buyer", text: "I doubt it. Send me something." }
      ]
    })
    return [{
      kind: "real_call.imported",
      identifiedBy: `ingest_id ${imported.ingest_id}`,
      matches: (body) => field(body, "ingest_id") === imported.ingest_id
    }]
  }
}

/**
 * realtime.autopop_ready: a nine-minute realtime call recorded through
 * `POST /v1/realtime-sessions`, then its CRM autopop generated.
 */
const autopopDriver: EmitPointDriver = {
  settings: [],
  fire: async (context) => {
    const userId = await createRep(context, "Realtime Rep")
    const endedAt = Date.now() - 60_000
    context.step("Recording a finished realtime call through POST /v1/realtime-sessions")
    const session = await context.api.request<{ id: string }>("POST", "/v1/realtime-sessions", 201, {
      user_id: userId,
      started_at: new Date(endedAt - 540_000).toISOString(),
      ended_at: new Date(endedAt).toISOString(),
      transcript: [
        { speaker: "rep", text: "Thanks for the time, Dana. Where does routing break for you today?" },
        { speaker: "buyer", text: "Multi-site routing. Our current tool cannot handle it, and budget is approved for Q3." },
        { speaker: "rep", text: "Then security review is the next gate. I will send the questionnaire by Friday." },
        { speaker: "buyer", text: "Good. Pricing will matter too, so bring numbers." }
      ]
    })
    context.step(`Generating its autopop through POST /api/realtime/sessions/${session.id}/autopop`)
    const autopop = await context.api.request<{ assist_id: string }>(
      "POST",
      `/api/realtime/sessions/${session.id}/autopop`,
      201
    )
    return [{
      kind: "realtime.autopop_ready",
      identifiedBy: `assist_id ${autopop.assist_id}`,
      matches: (body) => field(body, "assist_id") === autopop.assist_id
    }]
  }
}

/**
 * coverage.subscription_activated: a Stripe `customer.subscription.created`
 * event for an active Skill Insurance subscription of a new rep, signed
 * offline with the `stripe` package.
 */
const coverageDriver: EmitPointDriver = {
  settings: ["STRIPE_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Insured Rep")
    const stripeSubscriptionId = `sub_demo${shortId()}`
    const payload = JSON.stringify({
      id: `evt_demo${shortId()}`,
      object: "event",
      type: "customer.subscription.created",
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: stripeSubscriptionId,
          object: "subscription",
          status: "active",
          metadata: { skill_insurance_user_id: userId, plan: "individual" }
        }
      }
    })
    // Signing is local: the client makes no network call unless an API method is used.
    const stripe = new Stripe("sk_test_demo_no_api_calls")
    const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: context.setting("STRIPE_WEBHOOK_SECRET") })

    context.step("Posting a signed customer.subscription.created event to POST /api/webhooks/stripe")
    const response = await fetch(new URL("/api/webhooks/stripe", context.baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body: payload,
      signal: AbortSignal.timeout(requestTimeoutMs)
    })
    const text = await response.text()
    if (response.status !== 200) throw new Error(`POST /api/webhooks/stripe returned ${response.status}: ${text.slice(0, 300)}`)
    return [{
      kind: "coverage.subscription_activated",
      identifiedBy: `stripe_subscription_id ${stripeSubscriptionId}`,
      matches: (body) => field(body, "stripe_subscription_id") === stripeSubscriptionId
    }]
  }
}

/** Starts cron job `job` through `POST /api/cron/{job}`, which returns before the job has run. */
const startCronJob = async (context: DemoContext, job: string) => {
  context.step(`Starting the ${job} job through POST /api/cron/${job}`)
  await context.operator.request("POST", `/api/cron/${job}`, 202)
}

/** IANA time zone of the service's coaching-brief weeks: the demo's `COACHING_BRIEFS_TIME_ZONE`, default UTC. */
const briefsTimeZone = () => process.env.COACHING_BRIEFS_TIME_ZONE || "UTC"

/**
 * coaching.brief_delivered: a practice call, then the coaching-briefs job.
 * The job mails the briefs of the Monday-to-Sunday week that ended last, in
 * the briefs' time zone, and a brief covers the calls that ended in that
 * week. So the demo reports its call as ended a week ago (on a Sunday: just
 * now, because that week ends today).
 */
const coachingBriefDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const weekday = new Intl.DateTimeFormat("en-US", { timeZone: briefsTimeZone(), weekday: "long" }).format(new Date())
    const endedAt = new Date(Date.now() - (weekday === "Sunday" ? 60_000 : 7 * 24 * 60 * 60 * 1000))
    const userId = await createRep(context, "Coached Rep")
    context.step(`Completing a practice call that ended ${endedAt.toISOString()}, in the week the briefs cover`)
    await completePracticeCall(context, userId, { endedAt })
    await startCronJob(context, "coaching-briefs")
    return [{
      kind: "coaching.brief_delivered",
      identifiedBy: `user_id ${userId}`,
      matches: (body) => field(body, "user_id") === userId
    }]
  }
}

/**
 * Time the demo leaves the recompute-scores job before it changes the
 * scores again. The job returns nothing the demo could poll, and on an idle
 * service it takes well under a second.
 */
const recomputeSettleMs = 3_000

/**
 * Time the demo waits between a scorecard and the recompute-scores job. The
 * job counts scorecards created up to its start time truncated to the
 * second, so a scorecard of the same second would be left out.
 */
const scorecardSettleMs = 1_100

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * score.tier_changed: one scorecard of 40 puts a new rep in bronze
 * (9 x 40 + 10 = 370 points), and a second of 90 lifts the rep to gold
 * (9 x 65 + 20 = 605), each followed by the recompute-scores job.
 */
const scoreTierDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Climbing Rep")
    context.step("Completing a practice call scored 40 and recomputing: bronze")
    await completePracticeCall(context, userId, { overallScore: 40 })
    await sleep(scorecardSettleMs)
    await startCronJob(context, "recompute-scores")
    // NOTE: a job slower than recomputeSettleMs would see both scorecards at once and find no tier change.
    await sleep(recomputeSettleMs)
    context.step("Completing a practice call scored 90 and recomputing: gold")
    await completePracticeCall(context, userId, { overallScore: 90 })
    await sleep(scorecardSettleMs)
    await startCronJob(context, "recompute-scores")
    return [{
      kind: "score.tier_changed",
      identifiedBy: `user_id ${userId}, bronze to gold`,
      matches: (body) =>
        field(body, "user_id") === userId && field(body, "from_tier") === "bronze" && field(body, "to_tier") === "gold"
    }]
  }
}

/**
 * tournament.match_completed: a two-team tournament between two reps of the
 * demo tenant, started by the operator, and the result of its one match
 * reported by the tenant.
 */
const tournamentDriver: EmitPointDriver = {
  settings: [],
  fire: async (context) => {
    const captainA = await createRep(context, "Captain A")
    const captainB = await createRep(context, "Captain B")
    const slug = `demo-cup-${shortId()}`
    context.step(`Creating the tournament '${slug}' with two teams through the operator routes`)
    const tournament = await context.operator.request<{ id: string }>("POST", "/api/admin/tournaments", 201, {
      slug,
      title: "Demo Cup"
    })
    const teamPath = `/api/admin/tournaments/${tournament.id}/teams`
    const companyId = context.tenant.companyId
    await context.operator.request("POST", teamPath, 201, { company_id: companyId, name: "Closers", captain_user_id: captainA })
    await context.operator.request("POST", teamPath, 201, { company_id: companyId, name: "Openers", captain_user_id: captainB })
    const started = await context.operator.request<{ matches: Array<{ id: string; team_b_id: string | null }> }>(
      "POST",
      `/api/admin/tournaments/${tournament.id}/start`,
      200
    )
    const match = started.matches.find((candidate) => candidate.team_b_id !== null)
    if (match === undefined) throw new Error(`The tournament '${slug}' started without a match between two teams.`)

    context.step(`Reporting the result of match ${match.id} through POST /api/tournament-matches/{id}/result`)
    await context.api.request("POST", `/api/tournament-matches/${match.id}/result`, 200, {
      team_a_score: 87,
      team_b_score: 71,
      reported_by_user_id: captainA
    })
    return [{
      kind: "tournament.match_completed",
      identifiedBy: `match_id ${match.id}`,
      matches: (body) => field(body, "match_id") === match.id
    }]
  }
}

/**
 * churn_retro.published: the operator publishes a retro, which every tenant
 * with a matching subscription receives, the demo tenant among them.
 */
const churnRetroDriver: EmitPointDriver = {
  settings: [],
  fire: async (context) => {
    const slug = `demo-retro-${shortId()}`
    context.step(`Publishing the churn retro '${slug}' through POST /api/admin/retros`)
    await context.operator.request("POST", "/api/admin/retros", 201, {
      slug,
      company_name: "Westwind Logistics",
      reason_short: "Tried to roll out to 4 pods in 4 weeks.",
      what_we_changed: "Mandatory 2-pod cap on rollouts under 60 days."
    })
    return [{
      kind: "churn_retro.published",
      identifiedBy: `slug ${slug}`,
      matches: (body) => field(body, "slug") === slug
    }]
  }
}

interface SnapshotSummary {
  readonly id: string
  readonly published_at: string | null
}

/** Time the demo waits for the wage-index-snapshot job to store a new snapshot. */
const snapshotTimeoutMs = 10_000

/**
 * wage_index.published: the wage-index-snapshot job stores a snapshot, and
 * the operator publishes the newest one. The job stores nothing while no
 * rep has a Sales Lab Score, so a new rep first completes a practice call
 * and the recompute-scores job runs. When the newest snapshot is already
 * published, the demo unpublishes it first, because only publishing an
 * unpublished snapshot emits the event.
 */
const wageIndexDriver: EmitPointDriver = {
  settings: ["ELEVENLABS_WEBHOOK_SECRET"],
  fire: async (context) => {
    const userId = await createRep(context, "Indexed Rep")
    context.step("Completing a practice call and recomputing scores, so that the index has a population")
    await completePracticeCall(context, userId)
    await sleep(scorecardSettleMs)
    await startCronJob(context, "recompute-scores")
    await sleep(recomputeSettleMs)

    const newest = async () =>
      (await context.operator.request<{ data: Array<SnapshotSummary> }>("GET", "/api/admin/wage-index?limit=1", 200))
        .data[0]
    const before = await newest()
    await startCronJob(context, "wage-index-snapshot")
    const deadline = Date.now() + snapshotTimeoutMs
    let snapshot = await newest()
    while ((snapshot === undefined || snapshot.id === before?.id) && Date.now() < deadline) {
      await sleep(250)
      snapshot = await newest()
    }
    if (snapshot === undefined) {
      throw new Error(`The wage-index-snapshot job stored no snapshot within ${snapshotTimeoutMs / 1000} s.`)
    }

    const path = `/api/admin/wage-index/${snapshot.id}`
    if (snapshot.published_at !== null) {
      context.step(`Unpublishing snapshot ${snapshot.id} through PATCH ${path}`)
      await context.operator.request("PATCH", path, 200, { publish: false })
    }
    context.step(`Publishing snapshot ${snapshot.id} through PATCH ${path}`)
    const published = await context.operator.request<SnapshotSummary>("PATCH", path, 200, { publish: true })
    return [{
      kind: "wage_index.published",
      identifiedBy: `snapshot_id ${snapshot.id}, published_at ${published.published_at}`,
      matches: (body) => field(body, "snapshot_id") === snapshot.id && field(body, "published_at") === published.published_at
    }]
  }
}

/**
 * The driver of each kind whose emit point the demo can reach. A kind
 * missing here has no route to drive yet.
 */
export const emitPointDrivers: Partial<Record<EventKind, EmitPointDriver>> = {
  "session.completed": sessionDriver,
  "session.scorecard_finalized": sessionDriver,
  "coaching.brief_delivered": coachingBriefDriver,
  "coaching.streak_broken": streakDriver,
  "badge.awarded": badgeDriver,
  "real_call.imported": callImportDriver,
  "churn_retro.published": churnRetroDriver,
  "realtime.autopop_ready": autopopDriver,
  "coverage.subscription_activated": coverageDriver,
  "wage_index.published": wageIndexDriver,
  "tournament.match_completed": tournamentDriver,
  "score.tier_changed": scoreTierDriver,
  "assignment.completed": assignmentDriver
}
