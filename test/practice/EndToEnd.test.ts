import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createHmac, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { randomBase62 } from "../../src/platform/Secrets.ts"
import { TestServerLive } from "../support/TestServer.ts"
import {
  createTenantWithUser,
  insertSubscription,
  postCallBody,
  postWebhook,
  signNow,
  startPracticeCall
} from "./PracticeFixtures.ts"

/** One delivery as a receiver saw it, with the outcome of its signature check. */
interface ReceivedDelivery {
  readonly verified: boolean
  readonly event: string | undefined
  readonly deliveryId: string | undefined
  readonly contentType?: string | undefined
  readonly userAgent?: string | undefined
  readonly body: string
}

/** Verifies a signature as the developer reference's Node example does: hex HMAC over the raw body, constant-time compare. */
const verifyLikeNodeReference = (secret: string, body: string, header: string): boolean => {
  const received = Buffer.from(header.replace(/^sha256=/, ""), "hex")
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("hex"), "hex")
  return received.length === expected.length && timingSafeEqual(received, expected)
}

/** Starts a Node receiver on loopback that verifies each delivery and responds 401 to a bad signature. */
const nodeReceiver = (secret: string) =>
  Effect.gen(function*() {
    const received: Array<ReceivedDelivery> = []
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8")
        const verified = verifyLikeNodeReference(secret, raw, String(request.headers["x-saleslab-signature"] ?? ""))
        received.push({
          verified,
          event: request.headers["x-saleslab-event"] as string | undefined,
          deliveryId: request.headers["x-saleslab-delivery-id"] as string | undefined,
          contentType: request.headers["content-type"],
          userAgent: request.headers["user-agent"],
          body: raw
        })
        response.writeHead(verified ? 200 : 401).end(verified ? "ok" : "bad signature")
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () => Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
    )
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/saleslab/webhook`, received }
  })

/** The signature check of the developer reference's Python example, served by `http.server`. */
const pythonReceiverScript = `
import hashlib, hmac, json, os
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["SALESLAB_SIGNING_SECRET"].encode()

def verify(body: bytes, header: str) -> bool:
    sig = header.removeprefix("sha256=")
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, expected)

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        verified = verify(body, self.headers.get("x-saleslab-signature", ""))
        print(json.dumps({
            "verified": verified,
            "event": self.headers.get("x-saleslab-event"),
            "deliveryId": self.headers.get("x-saleslab-delivery-id"),
            "body": body.decode("utf-8"),
        }), flush=True)
        self.send_response(200 if verified else 401)
        self.end_headers()
        self.wfile.write(b"ok" if verified else b"bad signature")

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
`

const hasPython = spawnSync("python3", ["--version"]).status === 0

/** Runs the Python receiver as a child process; each line it prints is one verified delivery. */
const pythonReceiver = (secret: string) =>
  Effect.gen(function*() {
    const received: Array<ReceivedDelivery> = []
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn("python3", ["-c", pythonReceiverScript], {
          env: { ...process.env, SALESLAB_SIGNING_SECRET: secret },
          stdio: ["ignore", "pipe", "inherit"]
        })
      ),
      (child) => Effect.sync(() => child.kill())
    )
    const port = yield* Effect.async<number>((resume) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const message = JSON.parse(line) as { port?: number } & ReceivedDelivery
        if (message.port !== undefined) resume(Effect.succeed(message.port))
        else received.push(message)
      })
    }).pipe(Effect.timeout("10 seconds"))
    return { url: `http://127.0.0.1:${port}/saleslab/webhook`, received }
  })

/** The two kinds this suite follows; a first pass also awards a badge, which other suites cover. */
const sessionKinds = ["session.completed", "session.scorecard_finalized"]

/** Waits until `received` contains `count` deliveries, polling for up to 30 seconds. */
const awaitDeliveries = (received: ReadonlyArray<ReceivedDelivery>, count: number) =>
  Effect.suspend(() => received.length >= count ? Effect.void : Effect.fail("waiting")).pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(Duration.seconds(30)))),
    Effect.orElseFail(() => new Error(`expected ${count} deliveries, received ${received.length}`))
  )

/** Publishes both session events to `url` through a real post-call webhook and returns the received deliveries. */
const deliverSessionEvents = (receiver: { readonly url: string; readonly received: ReadonlyArray<ReceivedDelivery> }, secret: string) =>
  Effect.gen(function*() {
    const tenant = yield* createTenantWithUser("Acme")
    const call = yield* startPracticeCall(tenant)
    const subscription = yield* insertSubscription(tenant.companyId, { url: receiver.url, secret, eventKinds: sessionKinds })
    const body = postCallBody(call.dynamic_variables)

    const response = yield* postWebhook(body, yield* signNow(body))
    expect(response.body!.status).toBe("processed")
    yield* awaitDeliveries(receiver.received, 2)

    const sql = yield* SqlClient.SqlClient
    const stored = yield* sql<{ delivery_id: string; body: string }>`
      SELECT delivery_id, body FROM webhook_deliveries WHERE subscription_id = ${subscription} ORDER BY id`
    return {
      sessionId: call.session_id,
      scorecardId: response.body!.scorecard_id as string,
      subscription,
      stored,
      received: [...receiver.received].sort((a, b) => (a.event ?? "").localeCompare(b.event ?? ""))
    }
  })

/** Posts a delivery signed with another secret straight to a receiver and returns its status code. */
const postForged = (url: string) =>
  Effect.promise(async () => {
    const body = JSON.stringify({ event_kind: "session.completed", delivery_id: "forged" })
    const signature = createHmac("sha256", "sl_whsec_not_the_subscription_secret").update(body).digest("hex")
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-saleslab-event": "session.completed",
        "x-saleslab-signature": `sha256=${signature}`
      },
      body
    })
    return response.status
  })

const awaitSucceeded = (subscription: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ status: string }>`SELECT status FROM webhook_deliveries WHERE subscription_id = ${subscription}`).pipe(
    Effect.flatMap((rows) =>
      rows.length === 2 && rows.every((row) => row.status === "succeeded") ? Effect.void : Effect.fail("pending")
    ),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(Duration.seconds(15))))
  )

describe("Post-call webhook to subscriber", () => {
  // The delivery engine sleeps and schedules on the real clock, so this suite runs without TestClock.
  layer(TestServerLive(), { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("Node receiver verifies both deliveries", () =>
      Effect.gen(function*() {
        const secret = `sl_whsec_${randomBase62(40)}`
        const receiver = yield* nodeReceiver(secret)

        const result = yield* deliverSessionEvents(receiver, secret)

        expect(result.received.map((delivery) => delivery.verified)).toEqual([true, true])
        expect(result.received.map((delivery) => delivery.event)).toEqual([
          "session.completed",
          "session.scorecard_finalized"
        ])
        expect(result.received.map((delivery) => delivery.deliveryId)).toEqual([
          `session.completed:${result.sessionId}:${result.subscription}`,
          `scorecard.finalized:${result.scorecardId}:${result.subscription}`
        ])
        for (const delivery of result.received) {
          expect(delivery.contentType).toBe("application/json")
          expect(delivery.userAgent).toBe("sales-lab-webhooks/1")
          expect(JSON.parse(delivery.body).delivery_id).toBe(delivery.deliveryId)
          expect(delivery.body).toBe(result.stored.find((row) => row.delivery_id === delivery.deliveryId)?.body)
        }
        yield* awaitSucceeded(result.subscription)

        const forged = yield* postForged(receiver.url)
        expect(forged).toBe(401)
        expect(receiver.received.at(-1)?.verified).toBe(false)
      }).pipe(Effect.scoped))

    it.effect.skipIf(!hasPython)("Python receiver verifies both deliveries", () =>
      Effect.gen(function*() {
        const secret = `sl_whsec_${randomBase62(40)}`
        const receiver = yield* pythonReceiver(secret)

        const result = yield* deliverSessionEvents(receiver, secret)

        expect(result.received.map((delivery) => delivery.verified)).toEqual([true, true])
        expect(result.received.map((delivery) => delivery.deliveryId)).toEqual([
          `session.completed:${result.sessionId}:${result.subscription}`,
          `scorecard.finalized:${result.scorecardId}:${result.subscription}`
        ])
        for (const delivery of result.received) {
          expect(JSON.parse(delivery.body).event_kind).toBe(delivery.event)
          expect(delivery.body).toBe(result.stored.find((row) => row.delivery_id === delivery.deliveryId)?.body)
        }
        yield* awaitSucceeded(result.subscription)

        const forged = yield* postForged(receiver.url)
        expect(forged).toBe(401)
        yield* awaitDeliveries(receiver.received, 3)
        expect(receiver.received.at(-1)?.verified).toBe(false)
      }).pipe(Effect.scoped))
  })
})
