import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Effect } from "effect"
import { SalesLabApi } from "../Api.ts"
import { InternalError } from "../ApiErrors.ts"

/**
 * Answers every path that no route matches with the JSON error shape of the
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

/**
 * Turns a defect in any route (a bug, a lost database connection) into the
 * opaque 500 `InternalError` body. The cause is logged with the request and
 * never sent to the client.
 */
export const DefectResponsesLive = HttpApiBuilder.middleware(SalesLabApi, (app) =>
  Effect.catchAllDefect(app, (defect) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* Effect.logError("Request failed").pipe(
        Effect.annotateLogs({ method: request.method, url: request.url, defect: Cause.pretty(Cause.die(defect)) })
      )
      return yield* new InternalError({ message: "The server failed to handle the request; the failure has been logged." })
    })))
