import { HttpApiBuilder, HttpApiError, HttpMiddleware, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import { SalesLabApi } from "../Api.ts"
import { BadRequest, InternalError, PayloadTooLarge } from "../ApiErrors.ts"
import { characterCount, sliceCharacters } from "../Json.ts"
import { isMcpPath } from "../mcp/Paths.ts"
import { expectedTypesOf } from "./ExpectedTypes.ts"

/**
 * Responds to every path that no route matches with the JSON error shape of the
 * public contract: a 404 `NotFound` that names the method and path, instead
 * of the router's empty 404.
 */
export const NotFoundRouteLive = HttpApiBuilder.Router.use((router) =>
  router.all(
    "*",
    Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      HttpServerResponse.unsafeJson(
        { _tag: "NotFound", message: `No route matches ${request.method} ${request.url}; see /docs for the routes.` },
        { status: 404 }
      ))
  )
)

/** Maximum length, in characters, of a path parameter that the router matches (`HttpRouter.setRouterConfig`). */
export const maxPathParamLength = 2048

/**
 * Returns a 400 in the JSON error shape for a request whose path is not
 * valid percent-encoding, such as `%E0%A4%A`, or contains an encoded NUL
 * (`%00`), and a JSON 404 for a path with a segment longer than
 * `maxPathParamLength`. The router matches neither of the first two and no
 * route at all for the last, and would otherwise return a 404 with an empty
 * body.
 */
export const rejectMalformedPath = HttpMiddleware.make((app) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const queryStart = request.url.indexOf("?")
    const path = queryStart === -1 ? request.url : request.url.slice(0, queryStart)
    let decoded: string
    try {
      decoded = decodeURIComponent(path)
    } catch {
      return Effect.succeed(badPath("The URL path contains an invalid percent-encoded sequence."))
    }
    // PostgreSQL text cannot store NUL, so an id with one would fail in the database.
    if (decoded.includes("\u0000")) return Effect.succeed(badPath("The URL path contains the NUL character (%00)."))
    if (decoded.split("/").some((segment) => segment.length > maxPathParamLength)) {
      return Effect.succeed(HttpServerResponse.unsafeJson(
        {
          _tag: "NotFound",
          message: `No route matches ${request.method} ${truncate(path)}: a path segment is longer than ${maxPathParamLength} characters.`
        },
        { status: 404 }
      ))
    }
    return app
  })
)

/** Returns a 400 `BadRequest` whose message names `problem` in the URL path. */
const badPath = (problem: string) =>
  HttpServerResponse.unsafeJson({ _tag: "BadRequest", message: `Invalid request. ${problem}` }, { status: 400 })

/** Largest request body the service reads: 1 MiB, far above any valid request. */
export const maxRequestBodyBytes = 1_048_576

/** Maximum length of an issue text repeated in a 400, so that a huge invalid value is not echoed back whole. */
const maxIssueLength = 300

const truncate = (text: string) =>
  characterCount(text) <= maxIssueLength ? text : `${sliceCharacters(text, maxIssueLength)}…`

/**
 * Deepest nesting of arrays and objects a JSON body may have. No request of
 * the API nests more than a few levels, and the schema decoder's error
 * formatting recurses over the value, so a deeper body would overflow its
 * stack.
 */
export const maxJsonDepth = 64

/**
 * An unpaired UTF-16 surrogate, which JSON can escape (`"\ud800"`) but which
 * is not Unicode text. The driver would send it to PostgreSQL as U+FFFD, so
 * the stored text would differ from the text the response echoes.
 */
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Describes the first character of `text` that PostgreSQL text cannot keep as sent, for a 400. */
const unstorableCharacter = (text: string): string | undefined => {
  if (text.includes("\u0000")) return "contains the NUL character (\\u0000), which cannot be stored"
  const surrogate = unpairedSurrogate.exec(text)
  if (surrogate !== null) {
    return `contains an unpaired UTF-16 surrogate (\\u${surrogate[0].charCodeAt(0).toString(16)}), which is not valid Unicode text`
  }
  return undefined
}

/**
 * Finds the first string or key in `value` that PostgreSQL text cannot keep
 * as sent, and returns its path and problem, or "too deep" for a value nested
 * deeper than `maxJsonDepth`. An explicit stack keeps deep bodies off the call stack.
 */
const findUnstorableText = (
  value: unknown
): { readonly path: ReadonlyArray<string>; readonly problem: string } | "too deep" | undefined => {
  interface Visit {
    readonly value: unknown
    readonly key: string | undefined
    readonly parent: Visit | undefined
    readonly depth: number
  }
  const pathOf = (visit: Visit | undefined, last: ReadonlyArray<string> = []): ReadonlyArray<string> => {
    const keys: Array<string> = [...last]
    for (let at = visit; at !== undefined && at.key !== undefined; at = at.parent) keys.unshift(at.key)
    return keys
  }
  const pending: Array<Visit> = [{ value, key: undefined, parent: undefined, depth: 0 }]
  while (pending.length > 0) {
    const visit = pending.pop()!
    if (typeof visit.value === "string") {
      const problem = unstorableCharacter(visit.value)
      if (problem !== undefined) return { path: pathOf(visit), problem }
      continue
    }
    if (typeof visit.value !== "object" || visit.value === null) continue
    if (visit.depth >= maxJsonDepth) return "too deep"
    // Pushed in reverse, so entries are visited in document order.
    const entries = Object.entries(visit.value).reverse()
    for (const [key, item] of entries) {
      const problem = unstorableCharacter(key)
      if (problem !== undefined) return { path: pathOf(visit, [key]), problem }
      pending.push({ value: item, key, parent: visit, depth: visit.depth + 1 })
    }
  }
  return undefined
}

/**
 * Returns whether the API decodes the request's body as JSON. `HttpApiBuilder` does so for every
 * content type that contains `application/json` and for a body sent without a content type, and
 * reads any other type that is not a form or text as bytes.
 */
const decodedAsJson = (request: HttpServerRequest.HttpServerRequest) => {
  const contentType = (request.headers["content-type"] ?? "").toLowerCase()
  return contentType === "" || contentType.includes("application/json")
}

/**
 * Decoder of request bodies that fails on bytes that are not UTF-8, where
 * the server's own decoding turns them into U+FFFD. A byte order mark is
 * kept, so that `JSON.parse` rejects it as before.
 */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * Returns `request` with a body already read from it as `text`, because
 * the body of a Node request can be read only once. `parsed` is the body's
 * JSON value when it parsed, so that routes do not parse it again.
 */
const withBodyText = (
  request: HttpServerRequest.HttpServerRequest,
  bytes: Uint8Array,
  text: string,
  parsed: { readonly value: unknown } | undefined
) => {
  const decodeFailed = (cause: unknown) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
  const json = parsed === undefined
    ? Effect.try({ try: () => (text === "" ? null : JSON.parse(text)) as unknown, catch: decodeFailed })
    : Effect.succeed(parsed.value)
  const replaced: HttpServerRequest.HttpServerRequest = Object.create(request, {
    text: { get: () => Effect.succeed(text) },
    json: { get: () => json },
    arrayBuffer: { get: () => Effect.succeed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) }
  })
  return replaced
}

// JSON bodies are checked before any route reads them. Bytes that are not
// UTF-8, NUL characters, unpaired surrogates and nesting deeper than
// `maxJsonDepth` are a 400, instead of a database error or a silent change
// to U+FFFD. Incoming webhooks under /api/webhooks/ are skipped, because
// they read the raw bytes to check a signature.
const checkJsonBody = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  // Only a body the API decodes as JSON is read here, because a route that reads another type as
  // bytes would wait for the bytes this read already took.
  const readsRawBody = request.url.startsWith("/api/webhooks/")
  if (!decodedAsJson(request) || readsRawBody || request.method === "GET" || request.method === "DELETE") {
    return Effect.succeed(request)
  }
  const charset = charsetOf(request.headers["content-type"] ?? "")
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    return Effect.fail(
      new BadRequest({
        message: `Invalid request. The content-type names charset=${truncate(charset)}, but JSON bodies are read as UTF-8 only; ` +
          "send UTF-8 with content-type application/json."
      })
    )
  }
  return Effect.flatMap(Effect.orDie(request.arrayBuffer), (buffer) => {
    const bytes = new Uint8Array(buffer)
    let text: string
    try {
      text = strictUtf8.decode(bytes)
    } catch {
      return Effect.fail(
        new BadRequest({ message: "Invalid request. The body is not valid UTF-8; send JSON text encoded as UTF-8." })
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return Effect.succeed(withBodyText(request, bytes, text, undefined))
    }
    const found = findUnstorableText(parsed)
    if (found === "too deep") {
      return Effect.fail(
        new BadRequest({ message: `Invalid request. The JSON body nests arrays and objects deeper than ${maxJsonDepth} levels.` })
      )
    }
    if (found === undefined) return Effect.succeed(withBodyText(request, bytes, text, { value: parsed }))
    const field = found.path.join(".")
    return Effect.fail(
      new BadRequest({
        message: `Invalid request. '${field || "body"}' ${found.problem}. Remove it.`,
        field
      })
    )
  })
})

/** Returns the lower-case `charset` parameter of a content type, without quotes, or undefined when it has none. */
const charsetOf = (contentType: string): string | undefined => {
  const match = /;\s*charset\s*=\s*("[^"]*"|[^;\s]*)/i.exec(contentType)
  return match === null ? undefined : match[1]!.replace(/^"|"$/g, "").toLowerCase()
}

/** The 400 of a body that was not sent as JSON, naming the content type it was sent with. */
const notJsonError = (request: HttpServerRequest.HttpServerRequest) =>
  new HttpApiError.HttpApiDecodeError({
    issues: [],
    message: `Invalid request. The body must be a JSON object sent with content-type application/json, ` +
      `not ${truncate(request.headers["content-type"] ?? "no content-type")}.`
  })

/**
 * Rejects a POST, PATCH or PUT whose body is a URL-encoded or multipart form.
 * The API would decode such a body into the same fields as JSON, but it
 * documents JSON only, and the NUL check covers JSON bodies only. An empty
 * body passes, because curl sends `-d ''` as a form.
 */
const rejectFormBodies = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  const contentType = (request.headers["content-type"] ?? "").toLowerCase()
  const isForm = contentType.includes("application/x-www-form-urlencoded") || contentType.includes("multipart/form-data")
  const hasBody = Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined
  return isWrite(request) && isForm && hasBody ? Effect.fail(notJsonError(request)) : Effect.void
})

/** Returns whether a request is a POST, PATCH or PUT, the methods whose body the API decodes. */
const isWrite = (request: HttpServerRequest.HttpServerRequest) =>
  request.method === "POST" || request.method === "PATCH" || request.method === "PUT"

/** Returns whether a POST, PATCH or PUT has a body that the API does not decode as JSON. */
const sentWithoutJson = (request: HttpServerRequest.HttpServerRequest) =>
  isWrite(request) &&
  Number(request.headers["content-length"] ?? 0) > 0 &&
  !decodedAsJson(request)

const isRequestBodyError = (defect: unknown): defect is HttpServerError.RequestError =>
  defect instanceof HttpServerError.RequestError && defect.reason === "Decode"

/** One issue of a decoding failure. */
type DecodeIssue = HttpApiError.HttpApiDecodeError["issues"][number]

/** Path of an issue as the readable message shows it. */
const issuePath = (issue: DecodeIssue) => (issue.path.length === 0 ? "body" : issue.path.map(String).join("."))

/**
 * Drops the "Expected undefined" and "Expected null" issues of an optional or
 * nullable field when a real problem is reported at the field or inside it.
 * Next to literal mismatches alone, "Expected null" stays, because it
 * completes the list of allowed values.
 */
const withoutOptionalAlternatives = (issues: ReadonlyArray<DecodeIssue>) => {
  const isUndefinedAlternative = (issue: DecodeIssue) =>
    issue._tag === "Type" && issue.message.startsWith("Expected undefined,")
  const isNullAlternative = (issue: DecodeIssue) => issue._tag === "Type" && issue.message.startsWith("Expected null,")
  const problems = issues.filter((issue) => !isUndefinedAlternative(issue) && !isNullAlternative(issue))
  const isAtOrInside = (problem: DecodeIssue, path: string) =>
    issuePath(problem) === path || issuePath(problem).startsWith(`${path}.`)
  return issues.filter((issue) => {
    const path = issuePath(issue)
    if (isUndefinedAlternative(issue)) return !problems.some((problem) => isAtOrInside(problem, path))
    if (isNullAlternative(issue)) {
      return !problems.some((problem) => isAtOrInside(problem, path) && !literalMismatch.test(problem.message))
    }
    return true
  })
}

/**
 * Moves the "is missing" issue of an array's first item to the array itself,
 * as "must contain at least one item": the schema's report of an empty array
 * that needs items.
 */
const withEmptyArraysNamed = (issues: ReadonlyArray<DecodeIssue>): ReadonlyArray<DecodeIssue> =>
  issues.map((issue) =>
    issue._tag === "Missing" && issue.path.length > 0 && issue.path.at(-1) === 0
      ? { ...issue, path: issue.path.slice(0, -1), message: "must contain at least one item" }
      : issue
  )

/** Drops the period between a field's description and the ", actual ..." that follows it in an issue text. */
const withoutDoublePeriod = (message: string) => message.replace(/\., actual /, ", actual ")

/** The JSON type of each request field, by the text that the decoder prints for it after "Expected". */
const expectedTypes = expectedTypesOf(SalesLabApi)

/**
 * Replaces what the decoder names after "Expected" in an issue of a value of
 * the wrong type with the JSON type the field accepts, such as "an array".
 * The decoder names a field's description, where one is set for the API
 * reference, or else its type in TypeScript (`ReadonlyArray<string>`).
 */
const withTypeNamed = (message: string) => {
  const mismatch = /^Expected ([\s\S]*?), actual /.exec(message)
  if (mismatch === null) return message
  const typeName = expectedTypes.get(mismatch[1]!)
  if (typeName === undefined) return message
  return `Expected ${typeName}, actual ${message.slice(mismatch[0].length)}`
}

/**
 * Lists the allowed names after "is unexpected" in words, such as
 * `expected one of "limit" or "cursor"`, where the decoder writes them as a
 * TypeScript union (`expected: "limit" | "cursor"`).
 */
const withAllowedKeysListed = (message: string) => {
  const unexpected = /^is unexpected, expected: (.+)$/s.exec(message)
  if (unexpected === null) return message
  const keys = unexpected[1]!.split(" | ")
  return keys.length === 1
    ? `is unexpected; the only field here is ${keys[0]}`
    : `is unexpected; expected one of ${keys.slice(0, -1).join(", ")} or ${keys.at(-1)}`
}

/** The text of a schema issue that a value is not one literal, such as `Expected "rep", actual "owner"`. */
const literalMismatch = /^Expected ("[^"]*"|-?\d+(?:\.\d+)?|true|false|null), actual (.*)$/s

/**
 * Describes the problem of one field from its issues. A value that matches
 * none of several literals gets one issue per literal, so they are joined into
 * one list of the allowed values. Otherwise the first issue is the problem.
 */
const describeProblem = (messages: ReadonlyArray<string>): string => {
  const literals = messages.map((message) => literalMismatch.exec(message))
  if (messages.length > 1 && literals.every((match) => match !== null && match[2] === literals[0]![2])) {
    const allowed = literals.map((match) => match![1]!)
    return `Expected one of ${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}, actual ${literals[0]![2]}`
  }
  return messages[0]!
}

/**
 * Rewrites a schema decoding failure into a message a person can act on: the
 * invalid fields by path, each with its problem (`describeProblem`), cut to a bounded length.
 */
const readableDecodeError = (error: HttpApiError.HttpApiDecodeError) => {
  const issues = withEmptyArraysNamed(withoutOptionalAlternatives(error.issues))
    .map((issue) => ({ ...issue, message: withAllowedKeysListed(withoutDoublePeriod(withTypeNamed(issue.message))) }))
  const messagesPerPath = new Map<string, Array<string>>()
  for (const issue of issues) {
    const path = issuePath(issue)
    const messages = messagesPerPath.get(path) ?? []
    messages.push(issue.message)
    messagesPerPath.set(path, messages)
  }
  const problems = [...messagesPerPath].map(([path, messages]) => `'${path}': ${truncate(describeProblem(messages))}`)
  return new HttpApiError.HttpApiDecodeError({
    issues: issues.map((issue) => ({ ...issue, message: truncate(issue.message) })),
    message: `Invalid request. ${problems.join("; ")}.`
  })
}

// A declared length over the limit is rejected before any byte is read. A
// chunked body without a length is cut off when it crosses the limit, and the
// connection is then reset, because the server stops reading it.
const rejectDeclaredOversize = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Number(request.headers["content-length"] ?? 0) > maxRequestBodyBytes
    ? Effect.fail(new PayloadTooLarge({ message: `The request body is larger than ${maxRequestBodyBytes} bytes.` }))
    : Effect.void)

/**
 * Handles request-level errors of every route. Bodies are read up to
 * `maxRequestBodyBytes`, and a larger one is a 413. A body that is not valid
 * JSON is a 400 instead of a defect, and so are bytes that are not UTF-8 and
 * a JSON string that PostgreSQL cannot store as sent (`checkJsonBody`). A
 * body that fails to decode and was not sent as JSON gets a 400 that names
 * the content type it was sent with. Other schema failures get a readable
 * message, and any other defect (a bug, a lost database connection) becomes
 * the opaque 500 `InternalError`, with the cause logged and never sent to
 * the client.
 */
export const RequestErrorsLive = HttpApiBuilder.middleware(SalesLabApi, (app) =>
  rejectDeclaredOversize.pipe(
    Effect.zipRight(rejectFormBodies),
    Effect.zipRight(checkJsonBody),
    Effect.flatMap((request) => Effect.provideService(app, HttpServerRequest.HttpServerRequest, request)),
    Effect.catchIf(
      (error) => error instanceof HttpApiError.HttpApiDecodeError,
      (error) => Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Effect.fail(
        sentWithoutJson(request) ? notJsonError(request) : readableDecodeError(error as HttpApiError.HttpApiDecodeError)
      ))
    ),
    Effect.catchAllDefect((defect) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        if (isRequestBodyError(defect)) {
          if (String(defect.cause).includes("maxBytes exceeded")) {
            return yield* new PayloadTooLarge({
              message: `The request body is larger than ${maxRequestBodyBytes} bytes.`
            })
          }
          return yield* new HttpApiError.HttpApiDecodeError({
            issues: [],
            message: "Invalid request. The body is not valid JSON; send a JSON object with content-type application/json."
          })
        }
        yield* Effect.logError("Request failed").pipe(
          Effect.annotateLogs({ method: request.method, url: request.url, defect: Cause.pretty(Cause.die(defect)) })
        )
        return yield* new InternalError({ message: "The server failed to handle the request; the failure has been logged." })
      })
    ),
    Effect.catchIf(
      (error) => error instanceof BadRequest || error instanceof PayloadTooLarge || error instanceof HttpApiError.HttpApiDecodeError,
      (error) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          isMcpPath(request.url) ? Effect.succeed(jsonRpcError(error)) : Effect.fail(error))
    ),
    HttpServerRequest.withMaxBodySize(Option.some(maxRequestBodyBytes))
  ))

/**
 * Returns a request check's error as a JSON-RPC error response with the same
 * HTTP status: -32600, Invalid Request, with the error's message.
 */
const jsonRpcError = (error: BadRequest | PayloadTooLarge | HttpApiError.HttpApiDecodeError) =>
  HttpServerResponse.unsafeJson(
    { jsonrpc: "2.0", error: { code: -32600, message: error.message }, id: null },
    { status: error instanceof PayloadTooLarge ? 413 : 400 }
  )
