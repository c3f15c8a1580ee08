import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Cron, Effect, Either } from "effect"
import { briefsSchedule, briefsTimeZone, briefWeekAt } from "../../src/coaching/BriefsSchedule.ts"
import { AppConfig } from "../../src/platform/AppConfig.ts"

const zone = (name: string) => Either.getOrThrow(briefsTimeZone(name))

describe("briefWeekAt", () => {
  it("Sunday evening covers the week ending that day", () => {
    const week = briefWeekAt(new Date("2026-05-17T22:00:00.000Z"), zone("America/New_York"))

    expect(week).toEqual({
      weekStart: "2026-05-11",
      weekEnd: "2026-05-17",
      from: new Date("2026-05-11T04:00:00.000Z"),
      until: new Date("2026-05-18T04:00:00.000Z")
    })
  })

  it("weekdays cover the week before", () => {
    const cases: ReadonlyArray<[string, string]> = [
      ["2026-05-18T04:00:00.000Z", "2026-05-11"], // Monday 00:00 in New York
      ["2026-05-20T12:00:00.000Z", "2026-05-11"], // Wednesday
      ["2026-05-24T03:59:00.000Z", "2026-05-11"], // Saturday 23:59 in New York
      ["2026-05-24T04:00:00.000Z", "2026-05-18"] // Sunday 00:00 in New York
    ]
    for (const [now, weekStart] of cases) {
      expect(briefWeekAt(new Date(now), zone("America/New_York")).weekStart, now).toBe(weekStart)
    }
  })

  it("UTC Sunday before midnight", () => {
    const week = briefWeekAt(new Date("2026-05-17T23:59:59.999Z"), zone("UTC"))

    expect(week.weekStart).toBe("2026-05-11")
    expect(week.weekEnd).toBe("2026-05-17")
    expect(week.from).toEqual(new Date("2026-05-11T00:00:00.000Z"))
    expect(week.until).toEqual(new Date("2026-05-18T00:00:00.000Z"))
  })

  it("week across daylight saving change", () => {
    // Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    const week = briefWeekAt(new Date("2026-03-29T16:00:00.000Z"), zone("Europe/Berlin"))

    expect(week.from).toEqual(new Date("2026-03-22T23:00:00.000Z"))
    expect(week.until).toEqual(new Date("2026-03-29T22:00:00.000Z"))
    expect(week.until.getTime() - week.from.getTime()).toBe(167 * 3_600_000)
  })

  it("unknown time zone is rejected", () => {
    expect(Either.isLeft(briefsTimeZone("Mars/Olympus_Mons"))).toBe(true)
  })
})

describe("briefsSchedule", () => {
  it("default runs Sunday 18:00 UTC", () =>
    Effect.gen(function*() {
      const config = yield* AppConfig
      const schedule = Either.getOrThrow(briefsSchedule(config.coachingBriefsCron, config.coachingBriefsTimeZone))

      expect(config.coachingBriefsCron).toBe("0 18 * * 0")
      expect(config.coachingBriefsTimeZone).toBe("UTC")
      expect(Cron.next(schedule, new Date("2026-05-13T10:00:00.000Z"))).toEqual(new Date("2026-05-17T18:00:00.000Z"))
      expect(Cron.next(schedule, new Date("2026-05-17T18:00:00.000Z"))).toEqual(new Date("2026-05-24T18:00:00.000Z"))
    }).pipe(Effect.provide(AppConfig.layerTest()), Effect.runSync))

  it("zone moves Sunday 18:00", () => {
    const berlin = Either.getOrThrow(briefsSchedule("0 18 * * 0", "Europe/Berlin"))
    const newYork = Either.getOrThrow(briefsSchedule("0 18 * * 0", "America/New_York"))

    expect(Cron.next(berlin, new Date("2026-05-13T10:00:00.000Z"))).toEqual(new Date("2026-05-17T16:00:00.000Z"))
    expect(Cron.next(newYork, new Date("2026-05-13T10:00:00.000Z"))).toEqual(new Date("2026-05-17T22:00:00.000Z"))
    // Winter time in Berlin: 18:00 is 17:00 UTC.
    expect(Cron.next(berlin, new Date("2026-12-01T00:00:00.000Z"))).toEqual(new Date("2026-12-06T17:00:00.000Z"))
  })

  it("invalid cron or zone is rejected", () => {
    expect(Either.isLeft(briefsSchedule("0 18 * *", "UTC"))).toBe(true)
    expect(Either.isLeft(briefsSchedule("0 18 * * 0", "Mars/Olympus_Mons"))).toBe(true)
  })

  it("config rejects invalid settings", () => {
    const invalid = [
      new Map([["COACHING_BRIEFS_CRON", "every sunday"]]),
      new Map([["COACHING_BRIEFS_TIME_ZONE", "Mars/Olympus_Mons"]])
    ]
    for (const variables of invalid) {
      const exit = Effect.runSyncExit(
        AppConfig.pipe(Effect.provide(AppConfig.layer), Effect.withConfigProvider(ConfigProvider.fromMap(variables)))
      )
      expect(exit._tag, [...variables.keys()].join()).toBe("Failure")
    }
  })
})
