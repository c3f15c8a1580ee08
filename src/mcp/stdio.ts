import { FetchHttpClient } from "@effect/platform"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { Config, ConfigError, Effect, Either, Logger, Redacted, Runtime } from "effect"
import { makeMcpServer } from "./McpServer.ts"
import { makeRestOperations } from "./RestOperations.ts"
import { callTool } from "./Tools.ts"

/**
 * The local MCP server for desktop AI clients such as Claude Desktop and
 * Cursor: MCP over stdin and stdout, with every tool call made on a Sales
 * Lab service over REST. `SALESLAB_API_URL` names the service and
 * `SALESLAB_API_TOKEN` is the tenant API token the calls are made with.
 * Logs go to stderr, because stdout carries the protocol.
 */
const settings = Config.all({
  apiUrl: Config.string("SALESLAB_API_URL").pipe(
    Config.withDefault("http://127.0.0.1:8080"),
    Config.map((url) => url.replace(/\/+$/, ""))
  ),
  apiToken: Config.redacted("SALESLAB_API_TOKEN")
})

const describeConfigError = (error: ConfigError.ConfigError) =>
  ConfigError.isMissingData(error)
    ? "SALESLAB_API_TOKEN is missing: set it to a Sales Lab API token (sl_token_...) of your company in the MCP client's configuration."
    : `Invalid configuration: ${String(error)}. Fix it in the MCP client's configuration.`

const program = Effect.gen(function*() {
  const config = yield* Effect.either(settings)
  if (Either.isLeft(config)) {
    process.stderr.write(`saleslab-mcp: ${describeConfigError(config.left)}\n`)
    process.exitCode = 1
    return
  }
  const { apiUrl, apiToken } = config.right
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol)) {
    process.stderr.write(
      `saleslab-mcp: SALESLAB_API_URL ${JSON.stringify(apiUrl)} is invalid: set it to the http or https URL of a ` +
        "Sales Lab service, such as https://saleslab.example.com.\n"
    )
    process.exitCode = 1
    return
  }
  const operations = yield* makeRestOperations(apiUrl, Redacted.value(apiToken))
  const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
  const server = makeMcpServer((name, args) => runPromise(callTool(operations, name, args)))
  yield* Effect.promise(() => server.connect(new StdioServerTransport()))
  yield* Effect.logInfo("Sales Lab MCP server running on stdio").pipe(Effect.annotateLogs({ api_url: apiUrl }))
})

Effect.runPromise(
  program.pipe(
    Effect.provide(FetchHttpClient.layer),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )
)
