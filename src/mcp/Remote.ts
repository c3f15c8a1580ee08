import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js"
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { Effect, Layer, Runtime } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { CurrentTenant } from "../tenancy/Security.ts"
import { rateLimitedError, TenantTokens } from "../tenancy/SecurityLive.ts"
import { makeMcpServer, type ToolCaller } from "./McpServer.ts"
import { ssePath, sseMessagesPath, streamablePath } from "./Paths.ts"
import { ServiceOperations, ServiceOperationsLive } from "./ServiceOperations.ts"
import { callTool } from "./Tools.ts"

type Tenant = CurrentTenant["Type"]

/** A request as the MCP transports read it, with the caller's credentials attached. */
type AuthenticatedMessage = IncomingMessage & { auth?: AuthInfo }

/** An open SSE stream and the API token that opened it. */
interface SseSession {
  readonly transport: SSEServerTransport
  readonly tokenId: string
}

const bearerOf = (request: HttpServerRequest.HttpServerRequest) => {
  const header = request.headers.authorization ?? ""
  return header.toLowerCase().startsWith("bearer ") ? header.slice("bearer ".length) : ""
}

const errorResponse = (status: number, tag: string, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message }, { status, headers })

/** The JSON-RPC error response to a request body that is not JSON. */
const parseErrorResponse = (reason: string) =>
  HttpServerResponse.unsafeJson(
    { jsonrpc: "2.0", error: { code: -32700, message: `Parse error: the body is not JSON (${reason}).` }, id: null },
    { status: 400 }
  )

/** A JSON-RPC error for a body that the MCP transport cannot take, and the request id of the error response. */
interface InvalidMessage {
  readonly code: number
  readonly message: string
  readonly id: string | number | null
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Returns why a parsed body is not a JSON-RPC 2.0 message or batch, or
 * undefined when it is one. The transport itself would accept an empty
 * batch with a 202 and report the other cases as parse or internal errors.
 */
const invalidMessage = (body: unknown): InvalidMessage | undefined => {
  const messages = Array.isArray(body) ? body : [body]
  if (messages.length === 0) {
    return { code: -32600, message: "Invalid Request: the batch is empty; send one or more JSON-RPC messages.", id: null }
  }
  for (const message of messages) {
    if (!isJsonObject(message) || message.jsonrpc !== "2.0") {
      return { code: -32600, message: "Invalid Request: each message must be a JSON object with \"jsonrpc\": \"2.0\".", id: null }
    }
    const id = message.id
    if (id !== undefined && typeof id !== "string" && typeof id !== "number") {
      return { code: -32600, message: "Invalid Request: \"id\" must be a string or a number.", id: null }
    }
    // An error about one message of a batch cannot name its id, because the reply covers the whole batch.
    const replyId = Array.isArray(body) || id === undefined ? null : id
    const isResponse = message.method === undefined && message.id !== undefined &&
      ("result" in message) !== ("error" in message)
    if (isResponse) continue
    if (typeof message.method !== "string") {
      return {
        code: -32600,
        message: "Invalid Request: a request or notification needs a string \"method\", and a response an \"id\" with either \"result\" or \"error\".",
        id: replyId
      }
    }
    if (message.params !== undefined && !isJsonObject(message.params)) {
      return { code: -32602, message: "Invalid params: \"params\" must be a JSON object.", id: replyId }
    }
    const params = message.params
    if (message.method === "initialize" && !isInitializeParams(params)) {
      return {
        code: -32602,
        message: "Invalid params: initialize takes params with a string \"protocolVersion\", an object \"capabilities\" " +
          "and a \"clientInfo\" object with a string \"name\" and \"version\".",
        id: replyId
      }
    }
    if (message.method !== "tools/call") continue
    if (!isJsonObject(params) || typeof params.name !== "string" || (params.arguments !== undefined && !isJsonObject(params.arguments))) {
      return {
        code: -32602,
        message: "Invalid params: tools/call takes params with a string \"name\" and, optionally, an object \"arguments\".",
        id: replyId
      }
    }
  }
  return undefined
}

/** Returns whether `params` have the fields that an MCP `initialize` request needs. */
const isInitializeParams = (params: unknown): boolean =>
  isJsonObject(params) &&
  typeof params.protocolVersion === "string" &&
  isJsonObject(params.capabilities) &&
  isJsonObject(params.clientInfo) &&
  typeof params.clientInfo.name === "string" &&
  typeof params.clientInfo.version === "string"

/**
 * Reads the request body as JSON for the MCP transports, which take it
 * parsed, or returns the error response to send. A request without a body
 * gives undefined.
 */
const readJsonBody = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* request.text.pipe(Effect.orElseSucceed(() => ""))
  if (text === "") return { _tag: "Body", body: undefined } as const
  try {
    const body = JSON.parse(text) as unknown
    const invalid = invalidMessage(body)
    if (invalid === undefined) return { _tag: "Body", body } as const
    const response = HttpServerResponse.unsafeJson(
      { jsonrpc: "2.0", error: { code: invalid.code, message: invalid.message }, id: invalid.id },
      { status: 400 }
    )
    return { _tag: "Invalid", response } as const
  } catch (error) {
    return { _tag: "Invalid", response: parseErrorResponse(error instanceof Error ? error.message : String(error)) } as const
  }
})

/**
 * Waits until the response is sent or its connection is closed, and then
 * ends it, so that the HTTP server does not try to write a response of its
 * own after a client closed a stream.
 */
const responseFinished = (response: ServerResponse) =>
  Effect.async<void>((resume) => {
    if (response.writableFinished || response.destroyed) {
      resume(Effect.void)
      return
    }
    const finished = () => resume(Effect.void)
    response.once("finish", finished)
    response.once("close", finished)
    return Effect.sync(() => {
      response.off("finish", finished)
      response.off("close", finished)
    })
  }).pipe(Effect.ensuring(Effect.sync(() => {
    if (!response.writableEnded) response.end()
  })))

/**
 * The MCP endpoints on the service's HTTP server: Streamable HTTP at
 * `/mcp`, and the legacy HTTP+SSE transport at `/mcp/sse` with its messages
 * at `/mcp/messages`. Every request carries a tenant bearer token, checked
 * and counted against the token's rate limits as on the REST routes, and
 * every tool call runs as the token of the request that carried it.
 *
 * Streamable HTTP runs stateless: each POST gets its own MCP server, so no
 * session outlives its request. An SSE session lives in the memory of the
 * process that serves its stream, so with several processes behind a load
 * balancer, SSE clients need sticky routing.
 */
export const McpRoutesLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const tenantTokens = yield* TenantTokens
    const operations = yield* ServiceOperations
    const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
    const sseSessions = new Map<string, SseSession>()

    // Every request is authenticated before a transport sees it, so the tenant is always attached.
    const callAsTenant: ToolCaller = (name, args, authInfo) => {
      const tenant = authInfo!.extra!.tenant as Tenant
      return runPromise(
        callTool(operations.forTenant(tenant), name, args, tenant.scopes).pipe(
          Effect.annotateLogs({ company_id: tenant.companyId, token_id: tenant.tokenId, tool: name })
        )
      )
    }

    /**
     * Checks the request's bearer token. Returns the tenant with the node
     * request and response, or the error response to send.
     */
    const authenticate = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const token = bearerOf(request)
      const result = yield* tenantTokens.authenticate(token).pipe(Effect.either)
      if (result._tag === "Left") {
        const error = result.left
        switch (error._tag) {
          case "Unauthorized":
            return { _tag: "Rejected", response: errorResponse(401, error._tag, error.message, { "www-authenticate": "Bearer" }) } as const
          case "RateLimitExceeded": {
            const limited = rateLimitedError(error)
            const response = HttpServerResponse.unsafeJson(
              { _tag: limited._tag, message: limited.message, retry_after_seconds: limited.retry_after_seconds },
              { status: 429, headers: { "retry-after": String(limited.retry_after_seconds) } }
            )
            return { _tag: "Rejected", response } as const
          }
          case "InternalError":
            return { _tag: "Rejected", response: errorResponse(500, error._tag, error.message) } as const
        }
      }
      const tenant = result.right
      const message: AuthenticatedMessage = NodeHttpServerRequest.toIncomingMessage(request)
      message.auth = { token, clientId: tenant.tokenId, scopes: [...tenant.scopes], extra: { tenant } }
      return { _tag: "Accepted", tenant, message, response: NodeHttpServerRequest.toServerResponse(request) } as const
    })

    /**
     * Response returned once an MCP transport has written to the raw response.
     * The server skips it, because a response was already sent.
     */
    const answeredByTransport = HttpServerResponse.empty()

    const streamable = Effect.gen(function*() {
      const checked = yield* authenticate
      if (checked._tag === "Rejected") return checked.response
      const read = yield* readJsonBody
      if (read._tag === "Invalid") return read.response
      const server = makeMcpServer(callAsTenant)
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true })
      yield* Effect.promise(() => server.connect(transport))
      yield* Effect.promise(() => transport.handleRequest(checked.message, checked.response, read.body)).pipe(
        Effect.zipRight(responseFinished(checked.response)),
        Effect.ensuring(Effect.promise(() => server.close()))
      )
      return answeredByTransport
    })

    const sseStream = Effect.gen(function*() {
      const checked = yield* authenticate
      if (checked._tag === "Rejected") return checked.response
      const server = makeMcpServer(callAsTenant)
      const transport = new SSEServerTransport(sseMessagesPath, checked.response)
      sseSessions.set(transport.sessionId, { transport, tokenId: checked.tenant.tokenId })
      yield* Effect.promise(() => server.connect(transport)).pipe(
        Effect.zipRight(responseFinished(checked.response)),
        Effect.ensuring(Effect.sync(() => sseSessions.delete(transport.sessionId))),
        Effect.ensuring(Effect.promise(() => server.close()))
      )
      return answeredByTransport
    })

    const sseMessage = Effect.gen(function*() {
      const checked = yield* authenticate
      if (checked._tag === "Rejected") return checked.response
      const request = yield* HttpServerRequest.HttpServerRequest
      const sessionId = new URL(request.url, "http://localhost").searchParams.get("sessionId") ?? ""
      const session = sseSessions.get(sessionId)
      // A session takes messages only with the token that opened its stream,
      // and is reported as unknown to any other token, so that session ids do not leak.
      if (session === undefined || session.tokenId !== checked.tenant.tokenId) {
        return errorResponse(
          404,
          "NotFound",
          `MCP session "${sessionId}" not found. Open a stream at ${ssePath} and post to the endpoint it announces.`
        )
      }
      // The transport would reply to another media type in plain text.
      const contentType = request.headers["content-type"] ?? ""
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        const sent = contentType === "" ? "no Content-Type" : `"${contentType}"`
        return HttpServerResponse.unsafeJson(
          {
            jsonrpc: "2.0",
            error: { code: -32000, message: `Unsupported Media Type: send the message as application/json, not ${sent}.` },
            id: null
          },
          { status: 415 }
        )
      }
      const read = yield* readJsonBody
      if (read._tag === "Invalid") return read.response
      yield* Effect.promise(() => session.transport.handlePostMessage(checked.message, checked.response, read.body)).pipe(
        Effect.zipRight(responseFinished(checked.response))
      )
      return answeredByTransport
    })

    // Without sessions there is no stream to open with GET and no session to end with DELETE,
    // and no other method means anything here.
    const onlyPost = HttpServerResponse.unsafeJson(
      { jsonrpc: "2.0", error: { code: -32000, message: `Method not allowed: ${streamablePath} takes POST only.` }, id: null },
      { status: 405, headers: { allow: "POST" } }
    )
    yield* router.post(streamablePath, streamable)
    yield* router.get(streamablePath, Effect.succeed(onlyPost))
    yield* router.del(streamablePath, Effect.succeed(onlyPost))
    yield* router.put(streamablePath, Effect.succeed(onlyPost))
    yield* router.patch(streamablePath, Effect.succeed(onlyPost))
    yield* router.head(streamablePath, Effect.succeed(onlyPost))
    yield* router.options(streamablePath, Effect.succeed(onlyPost))
    yield* router.get(ssePath, sseStream)
    // The server routes other HEAD requests as GETs, but the stream's response never ends.
    yield* router.head(ssePath, Effect.succeed(errorResponse(
      405,
      "MethodNotAllowed",
      `${ssePath} takes GET only, which opens the event stream.`,
      { allow: "GET" }
    )))
    yield* router.post(sseMessagesPath, sseMessage)
  })
).pipe(Layer.provide([TenantTokens.Default, ServiceOperationsLive]))
