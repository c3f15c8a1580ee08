import { describe, expect, it } from "@effect/vitest"
import { parseStripeEvent, planOf } from "../../src/coverage/SubscriptionChange.ts"

const subscription = (fields: Record<string, unknown> = {}) => ({
  id: "sub_1PqR2sT3uV4wX5yZ",
  status: "active",
  metadata: { skill_insurance_user_id: "9b2e4f61-1c3a-4d8e-b7f0-52a6c9d13e84" },
  ...fields
})

const event = (fields: Record<string, unknown> = {}, object: Record<string, unknown> = subscription()) => ({
  id: "evt_1QaB2cD3eF4gH5iJ",
  object: "event",
  type: "customer.subscription.updated",
  created: 1_779_198_128,
  data: { object },
  ...fields
})

describe("parseStripeEvent", () => {
  it("reads a subscription change", () => {
    expect(parseStripeEvent(event())).toStrictEqual({
      _tag: "Change",
      change: {
        eventId: "evt_1QaB2cD3eF4gH5iJ",
        eventType: "customer.subscription.updated",
        createdAt: new Date("2026-05-19T13:42:08.000Z"),
        stripeSubscriptionId: "sub_1PqR2sT3uV4wX5yZ",
        status: "active",
        userId: "9b2e4f61-1c3a-4d8e-b7f0-52a6c9d13e84",
        plan: "individual"
      }
    })
  })

  it("ignores other types before validating", () => {
    expect(parseStripeEvent({ type: "invoice.paid", data: { object: { id: 7 } } })).toStrictEqual({
      _tag: "Ignored",
      reason: "event type"
    })
  })

  it("ignores subscriptions without a user", () => {
    for (const metadata of [undefined, null, {}, { skill_insurance_user_id: "" }, { plan: "team" }]) {
      const parsed = parseStripeEvent(event({}, subscription({ metadata })))
      expect(parsed, JSON.stringify(metadata)).toStrictEqual({ _tag: "Ignored", reason: "no covered user" })
    }
  })

  it("names the first invalid field", () => {
    const { status: _status, ...withoutStatus } = subscription()
    const parsed = parseStripeEvent(event({}, withoutStatus))
    expect(parsed).toStrictEqual({
      _tag: "Invalid",
      field: "data.object.status",
      message: "The Stripe event field data.object.status is missing."
    })
    expect(parseStripeEvent("not an object")._tag).toBe("Invalid")
  })
})

describe("planOf", () => {
  const price = (nickname: string | null, lookup_key: string | null) => ({ data: [{ price: { nickname, lookup_key } }] })

  it("prefers metadata, then nickname, then lookup key", () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ metadata: { plan: "family" }, items: price("team", "team_key") }, "family"],
      [{ metadata: { plan: "  " }, items: price("team", "team_key") }, "team"],
      [{ metadata: {}, items: price(null, "team_key") }, "team_key"],
      [{ metadata: {}, items: price("", null) }, "individual"],
      [{ metadata: {}, items: { data: [] } }, "individual"],
      [{ metadata: {} }, "individual"]
    ]
    for (const [fields, plan] of cases) {
      const parsed = parseStripeEvent(event({}, subscription({
        ...fields,
        metadata: { skill_insurance_user_id: "u", ...(fields.metadata as object) }
      })))
      expect(parsed._tag === "Change" ? parsed.change.plan : parsed, JSON.stringify(fields)).toBe(plan)
    }
    expect(planOf({ id: "sub_1", status: "active", metadata: {} })).toBe("individual")
  })
})
