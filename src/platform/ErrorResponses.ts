import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

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
