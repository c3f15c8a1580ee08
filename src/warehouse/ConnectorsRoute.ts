import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { connectorsHtml } from "./Connectors.ts"

/** Content type of the connectors page. */
export const htmlContentType = "text/html; charset=utf-8"

/**
 * Content-Security-Policy that allows only the page's inline style sheet, so
 * a browser loads no script, image or other file for the page.
 */
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * Serves `GET /connectors` outside the HTTP API, like `/docs`: it needs no
 * token and is not part of `/openapi.json`. The page is rendered once, at
 * start-up, because its content is fixed at build time.
 */
export const ConnectorsRouteLive = HttpApiBuilder.Router.use((router) => {
  const html = connectorsHtml()
  return router.get(
    "/connectors",
    Effect.succeed(HttpServerResponse.text(html, {
      contentType: htmlContentType,
      headers: { "content-security-policy": contentSecurityPolicy, "x-content-type-options": "nosniff" }
    }))
  )
})
