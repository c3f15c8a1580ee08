import { Cron, DateTime, Either } from "effect"

/** The Monday-to-Sunday week that a coaching brief covers, in one time zone. */
export interface BriefWeek {
  /** The Monday, `YYYY-MM-DD`. */
  readonly weekStart: string
  /** The Sunday, `YYYY-MM-DD`. */
  readonly weekEnd: string
  /** Monday 00:00 in the time zone: the first instant of the week. */
  readonly from: Date
  /** The next Monday 00:00 in the time zone: the first instant after the week. */
  readonly until: Date
}

/**
 * Parses the schedule of the coaching-briefs job: `expression` read in the
 * IANA time zone `timeZone`. Fails with the parser's error for an invalid
 * expression or zone.
 */
export const briefsSchedule = (expression: string, timeZone: string) => Cron.parse(expression, timeZone)

/** The named time zone `timeZone`, failing with a message for an unknown name. */
export const briefsTimeZone = (timeZone: string): Either.Either<DateTime.TimeZone, string> =>
  Either.fromOption(DateTime.zoneMakeNamed(timeZone), () => `Unknown time zone '${timeZone}'.`)

/**
 * Returns the latest Monday-to-Sunday week in `zone` whose Sunday is on or
 * before the day of `now`: on a Sunday the week ending that day, on any other
 * day the week that ended the Sunday before. Days follow the zone's calendar,
 * so a week across a daylight saving change is 167 or 169 hours long.
 */
export const briefWeekAt = (now: Date, zone: DateTime.TimeZone): BriefWeek => {
  const today = DateTime.startOf(DateTime.unsafeMakeZoned(now, { timeZone: zone }), "day")
  // getPart "weekDay" counts from Sunday = 0, so it is the number of days since the last Sunday.
  const sunday = DateTime.subtract(today, { days: DateTime.getPart(today, "weekDay") })
  const monday = DateTime.subtract(sunday, { days: 6 })
  const nextMonday = DateTime.add(sunday, { days: 1 })

  return {
    weekStart: DateTime.formatIsoDate(monday),
    weekEnd: DateTime.formatIsoDate(sunday),
    from: DateTime.toDateUtc(monday),
    until: DateTime.toDateUtc(nextMonday)
  }
}
