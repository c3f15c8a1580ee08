import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { type AddressInfo, createServer as createNetServer, type Server } from "node:net"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { postForPrefix, WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { Receiver, redirect, reset, respond, stall } from "../support/Receiver.ts"

/** The sender with the given delivery timeout, and a receiver. */
const senderWithTimeout = (deliveryTimeout: Duration.Duration) =>
  WebhookSender.layer.pipe(
    Layer.provideMerge(Receiver.layer),
    Layer.provide(AppConfig.layerTest({ deliveryTimeout }))
  )

// 2 s leaves room for a busy machine: with 500 ms, ordinary requests timed out under load.
const SenderLive = senderWithTimeout(Duration.seconds(2))

/** Returns a loopback port that was free a moment ago, so a connection to it is refused. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const post = (path: string) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const sender = yield* WebhookSender
    return yield* Effect.promise(() =>
      sender.send({
        url: `${receiver.url}${path}`,
        headers: { "content-type": "application/json", "x-saleslab-event": "badge.awarded" },
        body: "{\"a\":1}"
      })
    )
  })

describe("WebhookSender", () => {
  it.scopedLive("records status and body", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      // The receiver responds after 150 ms, so the measured duration must cover that wait.
      yield* receiver.enqueue(respond(201, "created", 150))
      const report = yield* post("/ok")
      expect(report.result).toEqual({ _tag: "Response", statusCode: 201, location: undefined, responseBody: "created" })
      expect(report.durationMs).toBeGreaterThanOrEqual(140)
      expect(report.durationMs).toBeLessThan(5_000)
      const [request] = yield* receiver.requests
      expect(request!.body.toString("utf8")).toBe("{\"a\":1}")
      expect(request!.headers["x-saleslab-event"]).toBe("badge.awarded")
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("keeps only the first 4 KiB of a large body", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(respond(500, Buffer.alloc(5 * 1024 * 1024, "x")))
      const report = yield* post("/large")
      expect(report.result._tag).toBe("Response")
      if (report.result._tag !== "Response") return
      expect(report.result.statusCode).toBe(500)
      expect(report.result.responseBody.length).toBe(4096)
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("returns a redirect without following it", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(redirect(302, `${receiver.url}/target`))
      const report = yield* post("/moved")
      expect(report.result).toMatchObject({ _tag: "Response", statusCode: 302, location: `${receiver.url}/target` })
      yield* Effect.sleep("200 millis")
      expect((yield* receiver.requests).map((request) => request.path)).toEqual(["/moved"])
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("aborts a stalled request at the timeout", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(stall)
      const report = yield* post("/stall")
      expect(report.result._tag).toBe("TimedOut")
      expect(report.durationMs).toBeGreaterThanOrEqual(1900)
      expect(report.durationMs).toBeLessThan(6000)
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("times out a response slower than the timeout", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(respond(200, "late", 5000))
      const report = yield* post("/slow")
      expect(report.result._tag).toBe("TimedOut")
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("waits past the pool's idle timeout", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      // The pool closes connections idle for 4 s; a busy one must stay open.
      yield* receiver.enqueue(respond(200, "late but in time", 4_500))
      const report = yield* post("/slow-but-in-time")
      expect(report.result).toEqual({ _tag: "Response", statusCode: 200, location: undefined, responseBody: "late but in time" })
    }).pipe(Effect.provide(senderWithTimeout(Duration.seconds(8)))))

  it.scopedLive("reports a reset connection", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(reset)
      const report = yield* post("/reset")
      expect(report.result._tag).toBe("ConnectionFailed")
      if (report.result._tag !== "ConnectionFailed") return
      expect(report.result.reason.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("reports a cut-off body with its status", () =>
    Effect.gen(function*() {
      // Announces 100 bytes, sends 50 and closes the connection.
      const server = yield* Effect.acquireRelease(
        Effect.async<Server>((resume) => {
          const listening = createNetServer((socket) => {
            socket.once("data", () => {
              socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(50)}`)
            })
          })
          listening.listen(0, "127.0.0.1", () => resume(Effect.succeed(listening)))
        }),
        (listening) => Effect.async<void>((resume) => {
          listening.close(() => resume(Effect.void))
        })
      )
      const sender = yield* WebhookSender
      const { port } = server.address() as AddressInfo
      const report = yield* Effect.promise(() => sender.send({ url: `http://127.0.0.1:${port}/cut`, headers: {}, body: "{}" }))
      expect(report.result._tag).toBe("ConnectionFailed")
      if (report.result._tag !== "ConnectionFailed") return
      expect(report.result.reason).toContain("after the status line (HTTP 200), before the body ended")
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("reports a refused connection", () =>
    Effect.gen(function*() {
      const sender = yield* WebhookSender
      const url = `http://127.0.0.1:${yield* closedPort}/`
      const report = yield* Effect.promise(() => sender.send({ url, headers: {}, body: "{}" }))
      expect(report.result).toMatchObject({ _tag: "ConnectionFailed" })
      if (report.result._tag !== "ConnectionFailed") return
      expect(report.result.reason).toContain("ECONNREFUSED")
    }).pipe(Effect.provide(SenderLive)))

  it.scopedLive("rejects a header it cannot send, with no timer left", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* closedPort}/`
      const failure = yield* Effect.flip(Effect.tryPromise(() =>
        postForPrefix({ url, headers: { "x-saleslab-delivery-id": "d-\u20ac" }, body: "{}" }, 50)
      ))
      expect(String(failure.cause)).toContain("Invalid character")
      // A timer left armed would fire here and throw on the request that was never built.
      yield* Effect.sleep("150 millis")
    }))

  it.scopedLive("reuses the connection between requests", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      for (const path of ["/one", "/two", "/three"]) {
        yield* post(path)
        // Gives the pool a moment to take the idle connection back.
        yield* Effect.sleep("50 millis")
      }
      const ports = new Set((yield* receiver.requests).map((request) => request.remotePort))
      expect(ports.size).toBe(1)
    }).pipe(Effect.provide(SenderLive)))
})
