import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { SalesLabApi } from "../../src/Api.ts"
import { AppConfig, type AppSettings } from "../../src/platform/AppConfig.ts"
import { createServiceHttpServer, ServiceLive } from "../../src/Server.ts"
import { TestDatabaseLive } from "./TestDatabase.ts"

/** Base URL of the service started by `TestServerLive`, such as `http://127.0.0.1:41234`. */
export class TestServerUrl extends Context.Tag("test/TestServerUrl")<TestServerUrl, string>() {}

/** Operator token configured on every test server. */
export const testOperatorToken = "operator-test-token-0123456789"

/** ElevenLabs webhook secret configured on every test server. */
export const testElevenLabsSecret = "wsec_test_elevenlabs_0123456789"

/**
 * The whole service on a fresh, migrated database and a random loopback
 * port. Also provides the `SqlClient` of that database, so tests can check
 * rows directly, and `TestServerUrl`.
 */
export const TestServerLive = (overrides: Partial<AppSettings> = {}) =>
  Layer.effect(
    TestServerUrl,
    HttpServer.addressWith((address) =>
      Effect.succeed(address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "")
    )
  ).pipe(
    Layer.provideMerge(ServiceLive),
    Layer.provideMerge(NodeHttpServer.layer(createServiceHttpServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(TestDatabaseLive),
    Layer.provideMerge(AppConfig.layerTest({
      operatorToken: Option.some(Redacted.make(testOperatorToken)),
      elevenLabsWebhookSecret: Option.some(Redacted.make(testElevenLabsSecret)),
      ...overrides
    })),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

/** The typed client derived from `SalesLabApi`, sending `token` as bearer when given. */
export const apiClient = (token?: string) =>
  Effect.flatMap(TestServerUrl, (baseUrl) =>
    HttpApiClient.make(SalesLabApi, {
      baseUrl,
      transformClient: token === undefined
        ? undefined
        : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })).pipe(Effect.provide(FetchHttpClient.layer))
