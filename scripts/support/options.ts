/**
 * Command-line flags of the benchmark scripts: integer flags and
 * comma-separated lists of integers, each with a range, a default and a
 * line of help text.
 */
import { parseArgs } from "node:util"

/** A flag that takes one integer from `min` to `max`. */
export interface IntegerFlag {
  readonly kind: "integer"
  readonly default: number
  readonly min: number
  readonly max: number
  /** Help text: the setting the flag changes, with its unit. */
  readonly description: string
}

/** A flag that takes a comma-separated list of integers, each from `min` to `max`. */
export interface IntegerListFlag {
  readonly kind: "integers"
  readonly default: ReadonlyArray<number>
  readonly min: number
  readonly max: number
  readonly description: string
}

/** A flag that takes one of a fixed set of words. */
export interface ChoiceFlag<A extends string> {
  readonly kind: "choice"
  readonly default: A
  readonly choices: ReadonlyArray<A>
  readonly description: string
}

export type Flag = IntegerFlag | IntegerListFlag | ChoiceFlag<string>

/** The parsed value of each flag. */
export type FlagValues<Flags extends Record<string, Flag>> = {
  readonly [Name in keyof Flags]: Flags[Name] extends IntegerListFlag ? ReadonlyArray<number>
    : Flags[Name] extends ChoiceFlag<infer A> ? A
    : number
}

const describeDefault = (flag: Flag) =>
  flag.kind === "integers" ? flag.default.join(",") : String(flag.default)

const describeRange = (flag: Flag) =>
  flag.kind === "choice" ? flag.choices.join(" or ") : `${flag.min} to ${flag.max}`

/** Returns the usage text of a script: its npm command and one line per flag. */
export const usageText = (command: string, flags: Record<string, Flag>): string =>
  [
    `Usage: npm run ${command} -- [flags]`,
    ...Object.entries(flags).map(([name, flag]) =>
      `  --${name}  ${flag.description} (${describeRange(flag)}, default ${describeDefault(flag)})`
    )
  ].join("\n")

const parseInteger = (name: string, text: string, min: number, max: number, usage: string): number => {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`--${name} is invalid: '${text}' is not an integer from ${min} to ${max}.\n${usage}`)
    process.exit(2)
  }
  return value
}

/**
 * Reads the flags of the command line. `--help` prints the usage text and
 * exits with 0. An unknown flag or an invalid value prints the usage text
 * and exits with 2.
 */
export const readFlags = <Flags extends Record<string, Flag>>(command: string, flags: Flags): FlagValues<Flags> => {
  const usage = usageText(command, flags)
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      options: {
        help: { type: "boolean", default: false },
        ...Object.fromEntries(Object.keys(flags).map((name) => [name, { type: "string" as const }]))
      }
    }).values
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    return process.exit(2)
  }
  if (values.help === true) {
    console.log(usage)
    return process.exit(0)
  }

  const parsed: Record<string, unknown> = {}
  for (const [name, flag] of Object.entries(flags)) {
    const text = values[name]
    if (typeof text !== "string") {
      parsed[name] = flag.default
    } else if (flag.kind === "integer") {
      parsed[name] = parseInteger(name, text, flag.min, flag.max, usage)
    } else if (flag.kind === "integers") {
      const items = text.split(",").map((item) => item.trim()).filter((item) => item !== "")
      if (items.length === 0) {
        console.error(`--${name} is invalid: give at least one integer, such as ${describeDefault(flag)}.\n${usage}`)
        return process.exit(2)
      }
      parsed[name] = items.map((item) => parseInteger(name, item, flag.min, flag.max, usage))
    } else {
      if (!flag.choices.includes(text)) {
        console.error(`--${name} is invalid: '${text}' is not ${describeRange(flag)}.\n${usage}`)
        return process.exit(2)
      }
      parsed[name] = text
    }
  }
  return parsed as FlagValues<Flags>
}
