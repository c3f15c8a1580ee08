/**
 * Calendar arithmetic on practice days: the days on which a rep completed at
 * least one practice session, in the company's time zone. Days are
 * `YYYY-MM-DD` strings, so they sort and compare as text.
 */

/** A calendar day, `YYYY-MM-DD`. */
export type CalendarDay = string

const millisPerDay = 86_400_000

const calendarDayPattern = /^(\d{4})-(\d{2})-(\d{2})$/

const toEpochDay = (day: CalendarDay): number => {
  const match = calendarDayPattern.exec(day)
  if (match === null) throw new RangeError(`Invalid calendar day '${day}': expected YYYY-MM-DD.`)
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / millisPerDay
}

const fromEpochDay = (epochDay: number): CalendarDay => new Date(epochDay * millisPerDay).toISOString().slice(0, 10)

/** The day `count` days after `day`; a negative count goes back. */
export const addDays = (day: CalendarDay, count: number): CalendarDay => fromEpochDay(toEpochDay(day) + count)

/** Checks that `Intl` accepts `name` as a time zone, such as `Europe/Berlin` or `UTC`. */
export const isKnownTimeZone = (name: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name })
    return true
  } catch {
    return false
  }
}

/** Returns the calendar day of `instant` in `timeZone`, an IANA name such as `America/New_York`. */
export const localDay = (instant: Date, timeZone: string): CalendarDay => {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit"
  }).formatToParts(instant)
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((candidate) => candidate.type === type)?.value
  return `${part("year")}-${part("month")}-${part("day")}`
}

/** Consecutive practice days: `length` days from `firstDay` to `lastDay`, both included. */
export interface PracticeRun {
  readonly firstDay: CalendarDay
  readonly lastDay: CalendarDay
  readonly length: number
}

/** Splits practice days, in any order and with repeats, into runs of consecutive days, oldest run first. */
export const practiceRuns = (days: Iterable<CalendarDay>): ReadonlyArray<PracticeRun> => {
  const sorted = [...new Set(days)].sort()
  const runs: Array<PracticeRun> = []
  for (const day of sorted) {
    const previous = runs.at(-1)
    if (previous !== undefined && addDays(previous.lastDay, 1) === day) {
      runs[runs.length - 1] = { firstDay: previous.firstDay, lastDay: day, length: previous.length + 1 }
    } else {
      runs.push({ firstDay: day, lastDay: day, length: 1 })
    }
  }
  return runs
}

/** Length of the run of practice days that contains `day`; 0 when `day` is not a practice day. */
export const runLengthThrough = (days: Iterable<CalendarDay>, day: CalendarDay): number =>
  practiceRuns(days).find((run) => run.firstDay <= day && day <= run.lastDay)?.length ?? 0

/** A rep's practice streaks as seen on `today`. */
export interface StreakStatus {
  /** Length of the run that ends today or yesterday; 0 when neither was a practice day. */
  readonly current: number
  /** Length of the longest run so far. */
  readonly longest: number
  readonly lastPracticeDay: CalendarDay | undefined
  /**
   * The most recent run that has ended: the day after its last day is at
   * or before yesterday and had no practice. A run that ends yesterday may
   * still go on today, so it has not ended.
   */
  readonly lastEnded: PracticeRun | undefined
}

/** Computes the streaks of a rep on `today`. Days after `today` are ignored. */
export const streakStatus = (days: Iterable<CalendarDay>, today: CalendarDay): StreakStatus => {
  const runs = practiceRuns([...days].filter((day) => day <= today))
  const yesterday = addDays(today, -1)
  const latest = runs.at(-1)
  const latestIsOngoing = latest !== undefined && latest.lastDay >= yesterday
  return {
    current: latestIsOngoing ? latest.length : 0,
    longest: runs.reduce((longest, run) => Math.max(longest, run.length), 0),
    lastPracticeDay: latest?.lastDay,
    lastEnded: latestIsOngoing ? runs.at(-2) : latest
  }
}
