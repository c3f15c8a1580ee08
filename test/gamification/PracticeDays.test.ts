import { describe, expect, it } from "@effect/vitest"
import { addDays, isKnownTimeZone, localDay, practiceRuns, runLengthThrough, streakStatus } from "../../src/gamification/PracticeDays.ts"

describe("PracticeDays", () => {
  it("addDays crosses months, years and leap days", () => {
    expect(addDays("2026-05-31", 1)).toBe("2026-06-01")
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01")
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29")
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28")
    expect(addDays("2026-05-19", 0)).toBe("2026-05-19")
    expect(() => addDays("19/05/2026", 1)).toThrow(RangeError)
  })

  it("localDay follows the time zone", () => {
    const instant = new Date("2026-05-19T02:30:00.000Z")
    expect(localDay(instant, "UTC")).toBe("2026-05-19")
    expect(localDay(instant, "America/New_York")).toBe("2026-05-18")
    expect(localDay(new Date("2026-05-19T22:30:00.000Z"), "Asia/Tokyo")).toBe("2026-05-20")
    expect(localDay(new Date("2026-03-08T07:30:00.000Z"), "America/Los_Angeles")).toBe("2026-03-07")
  })

  it("isKnownTimeZone rejects unknown names", () => {
    expect(isKnownTimeZone("UTC")).toBe(true)
    expect(isKnownTimeZone("Europe/Berlin")).toBe(true)
    expect(isKnownTimeZone("Mars/Olympus_Mons")).toBe(false)
    expect(isKnownTimeZone("")).toBe(false)
  })

  it("practiceRuns groups consecutive days", () => {
    const runs = practiceRuns(["2026-05-03", "2026-05-01", "2026-05-02", "2026-05-02", "2026-05-05", "2026-05-31", "2026-06-01"])
    expect(runs).toEqual([
      { firstDay: "2026-05-01", lastDay: "2026-05-03", length: 3 },
      { firstDay: "2026-05-05", lastDay: "2026-05-05", length: 1 },
      { firstDay: "2026-05-31", lastDay: "2026-06-01", length: 2 }
    ])
    expect(practiceRuns([])).toEqual([])
  })

  it("runLengthThrough measures the run containing a day", () => {
    const days = ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-05"]
    expect(runLengthThrough(days, "2026-05-02")).toBe(3)
    expect(runLengthThrough(days, "2026-05-05")).toBe(1)
    expect(runLengthThrough(days, "2026-05-04")).toBe(0)
  })

  it("streakStatus counts a run ending today", () => {
    const status = streakStatus(["2026-05-17", "2026-05-18", "2026-05-19"], "2026-05-19")
    expect(status.current).toBe(3)
    expect(status.longest).toBe(3)
    expect(status.lastPracticeDay).toBe("2026-05-19")
    expect(status.lastEnded).toBeUndefined()
  })

  it("streakStatus keeps a run ending yesterday", () => {
    const status = streakStatus(["2026-05-10", "2026-05-11", "2026-05-17", "2026-05-18"], "2026-05-19")
    expect(status.current).toBe(2)
    expect(status.longest).toBe(2)
    expect(status.lastEnded).toEqual({ firstDay: "2026-05-10", lastDay: "2026-05-11", length: 2 })
  })

  it("streakStatus ends a run after a missed day", () => {
    const status = streakStatus(["2026-05-10", "2026-05-11", "2026-05-12", "2026-05-15", "2026-05-16", "2026-05-17"], "2026-05-19")
    expect(status.current).toBe(0)
    expect(status.longest).toBe(3)
    expect(status.lastPracticeDay).toBe("2026-05-17")
    expect(status.lastEnded).toEqual({ firstDay: "2026-05-15", lastDay: "2026-05-17", length: 3 })
  })

  it("streakStatus reports the run before today's", () => {
    const status = streakStatus(["2026-05-14", "2026-05-15", "2026-05-16", "2026-05-17", "2026-05-19"], "2026-05-19")
    expect(status.current).toBe(1)
    expect(status.longest).toBe(4)
    expect(status.lastEnded).toEqual({ firstDay: "2026-05-14", lastDay: "2026-05-17", length: 4 })
  })

  it("streakStatus ignores days after today", () => {
    const status = streakStatus(["2026-05-18", "2026-05-20"], "2026-05-19")
    expect(status.current).toBe(1)
    expect(status.lastPracticeDay).toBe("2026-05-18")
  })

  it("streakStatus of no practice is empty", () => {
    expect(streakStatus([], "2026-05-19")).toEqual({
      current: 0,
      longest: 0,
      lastPracticeDay: undefined,
      lastEnded: undefined
    })
  })
})
