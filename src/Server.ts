import { HttpApiBuilder, HttpApiScalar, HttpMiddleware, HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Data, Effect, Layer } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import { SalesLabApi } from "./Api.ts"
import { AssignmentsHttpLive } from "./assignments/Http.ts"
import { CoachingBriefsLive } from "./coaching/Briefs.ts"
import { BriefsHttpLive } from "./coaching/BriefsHttp.ts"
import { StreaksHttpLive } from "./coaching/StreaksHttp.ts"
import { CoverageHttpLive } from "./coverage/Http.ts"
import { CronHttpLive } from "./cron/Http.ts"
import { EventKindsHttpLive } from "./events/Http.ts"
import { GamificationHttpLive } from "./gamification/Http.ts"
import { IntegrationsHttpLive } from "./integrations/Http.ts"
import { AppConfig } from "./platform/AppConfig.ts"
import { maxPathParamLength, NotFoundRouteLive, rejectMalformedPath, RequestErrorsLive } from "./platform/ErrorResponses.ts"
import { ssePath } from "./mcp/Paths.ts"
import { McpRoutesLive } from "./mcp/Remote.ts"
import { HealthHttpLive } from "./platform/HealthHttp.ts"
import { MetricsRouteLive } from "./platform/Metrics.ts"
import { PracticeHttpLive } from "./practice/Http.ts"
import { RealtimeHttpLive } from "./realtime/Http.ts"
import { RetrosHttpLive } from "./retros/Http.ts"
import { ScoreRecompute } from "./scores/ScoreRecompute.ts"
import { TenancyHttpLive } from "./tenancy/Http.ts"
import { SecurityLive } from "./tenancy/SecurityLive.ts"
import { TournamentAdvance } from "./tournaments/TournamentAdvance.ts"
import { TournamentsHttpLive } from "./tournaments/Http.ts"
import { WageIndexHttpLive } from "./wageIndex/Http.ts"
import { WageIndexSnapshots } from "./wageIndex/WageIndexSnapshots.ts"
import { ConnectorsRouteLive } from "./warehouse/ConnectorsRoute.ts"
import { WarehouseHttpLive } from "./warehouse/Http.ts"
import { DeliveryEngineLive } from "./webhooks/DeliveryEngine.ts"
import { WebhooksHttpLive } from "./webhooks/Http.ts"
import { Outbox } from "./webhooks/Outbox.ts"
import { DeliveryRetention } from "./webhooks/Retention.ts"

/** The handlers of every route group of `SalesLabApi`. */
const RoutesLive = Layer.mergeAll(
  HealthHttpLive,
  TenancyHttpLive,
  PracticeHttpLive,
  WebhooksHttpLive,
  EventKindsHttpLive,
  AssignmentsHttpLive,
  GamificationHttpLive,
  StreaksHttpLive,
  BriefsHttpLive,
  IntegrationsHttpLive,
  RealtimeHttpLive,
  RetrosHttpLive,
  CoverageHttpLive,
  WageIndexHttpLive,
  TournamentsHttpLive,
  WarehouseHttpLive,
  CronHttpLive
)

/** The services behind the jobs that `CronHttpLive` runs on demand and on schedule. */
const JobServicesLive = Layer.mergeAll(
  CoachingBriefsLive,
  TournamentAdvance.Default,
  ScoreRecompute.Default,
  WageIndexSnapshots.Default,
  DeliveryRetention.Default
)

/** Every route handler of `SalesLabApi`, with the services they use. */
export const ApiLive = HttpApiBuilder.api(SalesLabApi).pipe(
  Layer.provide(RoutesLive),
  Layer.provide(JobServicesLive),
  Layer.provide(SecurityLive),
  Layer.provide(Outbox.Default),
  Layer.provide(DeliveryEngineLive)
)

/**
 * The whole service on a given HTTP server: routes, `/openapi.json`, the
 * bundled `/docs` page, `/metrics`, the `/connectors` page, the MCP
 * endpoints and the delivery engine. Needs `AppConfig`, a migrated
 * `PgClient` (which is also the `SqlClient`) and an `HttpServer`; the
 * delivery engine LISTENs through the `PgClient`.
 */
export const ServiceLive = HttpApiBuilder.serve((app) => HttpMiddleware.logger(rejectMalformedPath(app))).pipe(
  Layer.provide([
    NotFoundRouteLive,
    MetricsRouteLive,
    ConnectorsRouteLive,
    McpRoutesLive,
    RequestErrorsLive,
    HttpRouter.setRouterConfig({ maxParamLength: maxPathParamLength })
  ]),
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress
)

/** The HTTP server could not listen, with the address and the system's reason. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{ readonly host: string; readonly port: number; readonly reason: string }> {
  override get message() {
    return `Could not listen on ${this.host}:${this.port} (${this.reason}). ` +
      "Set PORT to a free port and HOST to an address of this machine."
  }
}

/**
 * Creates the service's Node HTTP server. A HEAD request is routed as a GET
 * of the same URL. Node marks a HEAD's response as bodiless when the request
 * arrives, so it sends the GET's status and headers only. The MCP server's
 * SSE stream is left out, because its response never ends.
 */
export const createServiceHttpServer = () => {
  const server = createServer()
  server.prependListener("request", (request: IncomingMessage) => {
    if (request.method === "HEAD" && request.url?.split("?")[0] !== ssePath) request.method = "GET"
  })
  return server
}

/** A Node HTTP server listening on `HOST`:`PORT`. */
export const NodeServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    NodeHttpServer.layer(createServiceHttpServer, { port: config.port, host: config.host }).pipe(
      Layer.mapError((error) => {
        const cause = (error as { readonly cause?: { readonly code?: unknown; readonly message?: unknown } }).cause
        const reason = typeof cause?.message === "string" ? cause.message : String(error)
        return new ListenFailed({ host: config.host, port: config.port, reason })
      })
    ))
)

/**
 * The Node HTTP server, opened only once the routes and the delivery engine
 * are built. The server listens as soon as it is built but handles requests
 * only after `ServiceLive` attaches the routes, so a request that arrived
 * during the engine's start-up would wait forever. `ApiLive` is the same
 * layer that `ServiceLive` uses, so it is built once.
 */
export const NodeServerAfterApiLive = Layer.provide(NodeServerLive, ApiLive)
