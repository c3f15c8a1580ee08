import { Cause, Data, Effect, JSONSchema, ParseResult, Schema } from "effect"
import { CoachingBrief } from "../coaching/BriefsApi.ts"
import { characterCount } from "../Json.ts"
import { Page } from "../Pagination.ts"
import { maxPromptLength, maxTitleLength, PracticeCall, PracticeSession, Scenario, Scorecard } from "../practice/Api.ts"
import type { Scope } from "../tenancy/Security.ts"

/** A tool call that failed for a reason the caller can act on; `message` goes back to the client as is. */
export class ToolFailure extends Data.TaggedError("ToolFailure")<{ readonly message: string }> {}

/** An id argument: a UUID, with the message `must be a UUID` when it is not one. */
const uuidArgument = (description: string) =>
  Schema.UUID.annotations({ description, message: () => ({ message: "must be a UUID", override: true }) })

const userIdDescription = "Id of a user of your company (UUID)."

/** Arguments of `query_scorecard`. */
const QueryScorecardInput = Schema.Struct({
  session_id: uuidArgument("Id of a practice session of your company (UUID).")
})

/** Arguments of `list_recent_sessions`. */
export const ListRecentSessionsInput = Schema.Struct({
  user_id: Schema.optionalWith(uuidArgument(`${userIdDescription} All users' sessions when absent.`), { exact: true }),
  limit: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 100)).annotations({
      description: "Number of sessions to return, 1 to 100. Default 20.",
      message: () => ({ message: "must be an integer from 1 to 100", override: true })
    }),
    { default: () => 20, exact: true }
  )
})
export type ListRecentSessionsInput = typeof ListRecentSessionsInput.Type

/** Arguments of `create_scenario`: the fields of `POST /v1/scenarios`. */
const CreateScenarioInput = Schema.Struct({
  prompt: Schema.String.pipe(
    Schema.filter((text) => text.trim() !== "" && characterCount(text) <= maxPromptLength)
  ).annotations({
    description: `What the AI buyer plays: persona, situation and objections, at most ${maxPromptLength} characters.`,
    jsonSchema: { maxLength: maxPromptLength },
    message: () => ({ message: `must be a non-blank text of at most ${maxPromptLength} characters`, override: true })
  }),
  title: Schema.optionalWith(
    Schema.String.pipe(Schema.filter((text) => text.trim() !== "" && characterCount(text) <= maxTitleLength)).annotations({
      description: "Short name of the scenario; derived from the prompt when absent.",
      jsonSchema: { maxLength: maxTitleLength },
      message: () => ({ message: `must be a non-blank text of at most ${maxTitleLength} characters`, override: true })
    }),
    { exact: true }
  ),
  pass_mark: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, 100)).annotations({
      description: "Overall score, 0 to 100, at or above which a session passes. Default 70.",
      message: () => ({ message: "must be an integer from 0 to 100", override: true })
    }),
    { exact: true }
  )
})

/** Arguments of `start_practice_call`. */
export const StartPracticeCallInput = Schema.Struct({
  scenario_id: uuidArgument("Id of a practice scenario of your company (UUID)."),
  user_id: Schema.optionalWith(
    uuidArgument("The rep who takes the call (UUID). Default: the default rep configured on the API token."),
    { exact: true }
  )
})
export type StartPracticeCallInput = typeof StartPracticeCallInput.Type

/** Arguments of `get_coaching_brief`. */
const GetCoachingBriefInput = Schema.Struct({ user_id: uuidArgument(userIdDescription) })

const SessionsPage = Page(PracticeSession).annotations({ identifier: "PracticeSessionsPage" })
type SessionsPage = typeof SessionsPage.Type

/**
 * Operations behind the tools, for one tenant's token. The service implements
 * them with its domain services, and the local binary with the REST API.
 */
export interface SalesLabOperations {
  readonly queryScorecard: (sessionId: string) => Effect.Effect<Scorecard, ToolFailure>
  readonly listRecentSessions: (input: ListRecentSessionsInput) => Effect.Effect<SessionsPage, ToolFailure>
  readonly createScenario: (input: typeof CreateScenarioInput.Type) => Effect.Effect<Scenario, ToolFailure>
  readonly startPracticeCall: (input: StartPracticeCallInput) => Effect.Effect<PracticeCall, ToolFailure>
  readonly getCoachingBrief: (userId: string) => Effect.Effect<CoachingBrief, ToolFailure>
}

/** One tool: its MCP description, argument and result schemas, the scope it needs, and what it runs. */
interface Tool<I, II, O, OI> {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly scope: Scope
  readonly input: Schema.Schema<I, II>
  readonly output: Schema.Schema<O, OI>
  readonly run: (operations: SalesLabOperations, input: I) => Effect.Effect<O, ToolFailure>
  /** One line for a person or a model that reads only the text content. */
  readonly summarize: (output: O) => string
}

/** A tool with its types erased, as the catalog keeps them. */
export interface AnyTool {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly scope: Scope
  readonly inputJsonSchema: ObjectJsonSchema
  readonly outputJsonSchema: ObjectJsonSchema
  /** Runs the tool and returns its result encoded as JSON, with the one-line summary. */
  readonly call: (
    operations: SalesLabOperations,
    args: unknown
  ) => Effect.Effect<{ readonly structured: Record<string, unknown>; readonly summary: string }, ToolFailure>
}

/**
 * Turns the parse issues of a tool's arguments into one message that names
 * each argument at fault once, such as `Invalid argument "limit": must be an integer from 1 to 100.`
 */
export const describeArgumentIssues = (error: ParseResult.ParseError): string => {
  const byArgument = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const name = issue.path.map(String).join(".")
    if (byArgument.has(name)) continue
    if (issue.path.length === 0) byArgument.set(name, "The arguments must be a JSON object.")
    else if (issue._tag === "Missing") byArgument.set(name, `Missing argument "${name}".`)
    else if (issue._tag === "Unexpected") byArgument.set(name, `Unknown argument "${name}".`)
    else byArgument.set(name, `Invalid argument "${name}": ${issue.message}.`)
  }
  return [...byArgument.values()].join(" ")
}

/** A JSON Schema whose root is an object, as MCP requires for tool arguments and results. */
export interface ObjectJsonSchema {
  readonly type: "object"
  readonly [key: string]: unknown
}

/**
 * Returns the JSON Schema of a tool's arguments or result, without the
 * `$schema` dialect line. A schema with an identifier comes out as a
 * reference into `$defs`, so its definition is moved up to the root.
 */
const jsonSchemaOf = (name: string, schema: Schema.Schema.AnyNoContext): ObjectJsonSchema => {
  const { $schema: _dialect, ...made } = JSONSchema.make(schema) as unknown as Record<string, unknown>
  let root = made
  const reference = typeof made.$ref === "string" ? /^#\/\$defs\/(.+)$/.exec(made.$ref) : null
  if (reference !== null) {
    const { [reference[1]!]: definition, ...otherDefinitions } = made.$defs as Record<string, Record<string, unknown>>
    root = Object.keys(otherDefinitions).length === 0 ? { ...definition } : { ...definition, $defs: otherDefinitions }
  }
  if (root.type !== "object") throw new Error(`The schema of tool ${name} must describe an object, not ${String(root.type)}`)
  return { ...root, type: "object" }
}

const defineTool = <I, II, O, OI>(tool: Tool<I, II, O, OI>): AnyTool => {
  const decodeArguments = Schema.decodeUnknown(tool.input, { onExcessProperty: "error", errors: "all" })
  const encodeOutput = Schema.encode(tool.output)
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    scope: tool.scope,
    inputJsonSchema: jsonSchemaOf(tool.name, tool.input),
    outputJsonSchema: jsonSchemaOf(tool.name, tool.output),
    call: (operations, args) =>
      decodeArguments(args ?? {}).pipe(
        Effect.mapError((error) => new ToolFailure({ message: describeArgumentIssues(error) })),
        Effect.flatMap((input) => tool.run(operations, input)),
        Effect.flatMap((output) =>
          encodeOutput(output).pipe(
            Effect.orDie,
            Effect.map((encoded) => ({ structured: encoded as Record<string, unknown>, summary: tool.summarize(output) }))
          )
        )
      )
  }
}

/** The five tools, in the order `tools/list` returns them. */
export const tools: ReadonlyArray<AnyTool> = [
  defineTool({
    name: "query_scorecard",
    title: "Query a scorecard",
    description: "Returns the scorecard of a finished practice session: overall score 0 to 100, verdict, " +
      "category scores, best and worst line, and the next drill. Fails when the session is unknown or not scored yet.",
    scope: "read",
    input: QueryScorecardInput,
    output: Scorecard,
    run: (operations, input) => operations.queryScorecard(input.session_id),
    summarize: (scorecard) =>
      `Session ${scorecard.session_id} scored ${scorecard.overall_score}/100 (${scorecard.verdict}): ${scorecard.headline}`
  }),
  defineTool({
    name: "list_recent_sessions",
    title: "List recent practice sessions",
    description: "Lists practice sessions of your company, newest first, optionally of one user. " +
      "Each has its status (started or completed) and start and end times.",
    scope: "read",
    input: ListRecentSessionsInput,
    output: SessionsPage,
    run: (operations, input) => operations.listRecentSessions(input),
    summarize: (page) => {
      const completed = page.data.filter((session) => session.status === "completed").length
      const sessions = page.data.length === 1 ? "1 session" : `${page.data.length} sessions`
      return `${sessions}, ${completed} completed${page.next_cursor === null ? "" : ", more available"}.`
    }
  }),
  defineTool({
    name: "create_scenario",
    title: "Create a practice scenario",
    description: "Creates a practice scenario from a prompt that describes the AI buyer: persona, situation and objections. " +
      "The title is derived from the prompt unless given; the pass mark defaults to 70.",
    scope: "write",
    input: CreateScenarioInput,
    output: Scenario,
    run: (operations, input) => operations.createScenario(input),
    summarize: (scenario) => `Created scenario ${scenario.id}: "${scenario.title}" (pass mark ${scenario.pass_mark}).`
  }),
  defineTool({
    name: "start_practice_call",
    title: "Start a practice call",
    description: "Starts a practice call on a scenario for a rep and returns the new session id and the voice agent's " +
      "signed conversation URL. Without user_id, the default rep configured on the API token takes the call.",
    scope: "write",
    input: StartPracticeCallInput,
    output: PracticeCall,
    run: (operations, input) => operations.startPracticeCall(input),
    summarize: (call) => `Started session ${call.session_id} for user ${call.user_id} on scenario ${call.scenario_id}.`
  }),
  defineTool({
    name: "get_coaching_brief",
    title: "Get the latest coaching brief",
    description: "Returns a user's latest weekly coaching brief: a summary, three things to celebrate and three to work on. " +
      "Fails when the user is unknown or has no brief yet.",
    scope: "read",
    input: GetCoachingBriefInput,
    output: CoachingBrief,
    run: (operations, input) => operations.getCoachingBrief(input.user_id),
    summarize: (brief) => `Brief of ${brief.week_start} to ${brief.week_end}: ${brief.summary}`
  })
]

/** The result of `tools/call` as MCP defines it. */
export interface ToolResult {
  readonly [key: string]: unknown
  readonly content: ReadonlyArray<{ readonly type: "text"; readonly text: string }>
  readonly structuredContent?: Record<string, unknown>
  readonly isError?: boolean
}

const errorResult = (message: string): ToolResult => ({ content: [{ type: "text", text: message }], isError: true })

/**
 * Calls the tool `name` with `args`, after checking that `scopes`, when
 * given, include the tool's scope. A failure the caller can act on comes
 * back as a tool error with its message, and an unexpected one is logged and
 * returned as a generic message, so that neither ends the session.
 */
export const callTool = (
  operations: SalesLabOperations,
  name: string,
  args: unknown,
  scopes?: ReadonlyArray<Scope>
): Effect.Effect<ToolResult> => {
  const tool = tools.find((candidate) => candidate.name === name)
  if (tool === undefined) {
    return Effect.succeed(errorResult(`Unknown tool "${name}". The tools are ${tools.map((known) => known.name).join(", ")}.`))
  }
  if (scopes !== undefined && !scopes.includes(tool.scope)) {
    return Effect.succeed(errorResult(`This token lacks the '${tool.scope}' scope that ${name} needs.`))
  }
  return tool.call(operations, args).pipe(
    Effect.map(({ structured, summary }): ToolResult => ({
      content: [{ type: "text", text: summary }, { type: "text", text: JSON.stringify(structured) }],
      structuredContent: structured
    })),
    Effect.catchTag("ToolFailure", (failure) => Effect.succeed(errorResult(failure.message))),
    Effect.catchAllCause((cause) =>
      Effect.logError("MCP tool call failed", Cause.pretty(cause)).pipe(
        Effect.annotateLogs({ tool: name }),
        Effect.as(errorResult(`The tool ${name} failed on the server. Retry later.`))
      )
    )
  )
}
