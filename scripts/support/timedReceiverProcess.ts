/**
 * The child process of `startTimedReceiver`: two HTTP servers on 127.0.0.1.
 * The healthy one verifies each delivery's signature, responds at once and
 * reports the arrival time of the body's `sequence` to the parent over the
 * IPC channel. The stalling one reads each request and never responds.
 * Receiving in a process of its own keeps the parent's event loop, busy
 * publishing events, from delaying the arrival timestamps.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { verifySignature } from "./receiver.ts"
import type { ReceiverCounters, ReceiverReply, ReceiverRequest } from "./timedReceiverProtocol.ts"

/** Interval at which arrivals are sent to the parent in one message, in milliseconds. */
const reportIntervalMs = 10

const send = (message: ReceiverReply) => {
  if (process.connected) process.send?.(message)
}

const epochNow = () => performance.timeOrigin + performance.now()

/** The subscription id in a delivery id of the form `<kind>:<key>:<subscription id>`. */
const subscriptionOf = (deliveryId: string) => deliveryId.slice(deliveryId.lastIndexOf(":") + 1)

const secrets = new Map<string, string>()
/** Arrivals not yet reported, as flat pairs of sequence and epoch milliseconds. */
let pendingArrivals: Array<number> = []

const counters = {
  requests: 0,
  valid: 0,
  invalid: 0,
  withoutSequence: 0,
  openConnections: 0,
  peakConnections: 0,
  totalConnections: 0,
  stalledRequests: 0
}
const stalled = new Set<ServerResponse>()
const stalledSockets = new Set<Socket>()

const readSequence = (body: string): number | undefined => {
  try {
    const sequence = (JSON.parse(body) as { sequence?: unknown }).sequence
    return typeof sequence === "number" && Number.isInteger(sequence) ? sequence : undefined
  } catch {
    return undefined
  }
}

const onHealthyRequest = (request: IncomingMessage, response: ServerResponse) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const arrivedAt = epochNow()
    const body = Buffer.concat(chunks).toString("utf8")
    const deliveryId = String(request.headers["x-saleslab-delivery-id"] ?? "")
    const signature = String(request.headers["x-saleslab-signature"] ?? "")
    const secret = secrets.get(subscriptionOf(deliveryId))
    const valid = secret !== undefined && verifySignature(secret, body, signature)

    counters.requests += 1
    response.writeHead(valid ? 200 : 401, { "content-type": "text/plain" })
    response.end(valid ? "ok" : "invalid signature")
    if (!valid) {
      counters.invalid += 1
      return
    }
    counters.valid += 1
    const sequence = readSequence(body)
    if (sequence === undefined) counters.withoutSequence += 1
    else pendingArrivals.push(sequence, arrivedAt)
  })
}

const onStalledRequest = (request: IncomingMessage, response: ServerResponse) => {
  counters.stalledRequests += 1
  request.resume()
  stalled.add(response)
  response.once("close", () => stalled.delete(response))
}

const healthy = createServer(onHealthyRequest)
// Senders keep connections between phases of a run that pause for a few seconds.
healthy.keepAliveTimeout = 60_000
healthy.on("connection", (socket: Socket) => {
  counters.openConnections += 1
  counters.totalConnections += 1
  counters.peakConnections = Math.max(counters.peakConnections, counters.openConnections)
  socket.once("close", () => {
    counters.openConnections -= 1
  })
})

const stalling = createServer(onStalledRequest)
stalling.on("connection", (socket: Socket) => {
  stalledSockets.add(socket)
  socket.once("close", () => stalledSockets.delete(socket))
})

const listen = (server: ReturnType<typeof createServer>) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  })

const currentCounters = (): ReceiverCounters => ({ ...counters, openStalled: stalled.size })

const flush = () => {
  if (pendingArrivals.length === 0) return
  send({ type: "arrivals", pairs: pendingArrivals })
  pendingArrivals = []
}

const close = async () => {
  flush()
  for (const socket of stalledSockets) socket.destroy()
  healthy.closeAllConnections()
  await Promise.all([healthy, stalling].map((server) => new Promise((resolve) => server.close(resolve))))
}

process.on("message", (message: ReceiverRequest) => {
  switch (message.type) {
    case "secrets":
      for (const [subscriptionId, secret] of message.entries) secrets.set(subscriptionId, secret)
      return send({ type: "done", id: message.id })
    case "counters":
      flush()
      return send({ type: "counters", id: message.id, counters: currentCounters() })
    case "reset-peak":
      counters.peakConnections = counters.openConnections
      return send({ type: "done", id: message.id })
    case "clock":
      return send({ type: "clock", id: message.id, at: epochNow() })
    case "release-stalled":
      for (const socket of stalledSockets) socket.destroy()
      return send({ type: "done", id: message.id })
    case "close":
      return void close().then(() => {
        send({ type: "done", id: message.id })
        process.exit(0)
      })
  }
})

// The receiver never outlives the benchmark, also when the benchmark is killed.
process.on("disconnect", () => process.exit(0))

const [healthyPort, stallingPort] = await Promise.all([listen(healthy), listen(stalling)])
setInterval(flush, reportIntervalMs)
send({
  type: "ready",
  url: `http://127.0.0.1:${healthyPort}/saleslab/webhook`,
  stallUrl: `http://127.0.0.1:${stallingPort}/saleslab/webhook`
})
