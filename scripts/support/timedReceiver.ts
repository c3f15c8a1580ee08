import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { epochNow } from "./report.ts"
import type { ReceiverCounters, ReceiverReply, ReceiverRequest } from "./timedReceiverProtocol.ts"

export type { ReceiverCounters } from "./timedReceiverProtocol.ts"

const childModule = fileURLToPath(new URL("./timedReceiverProcess.ts", import.meta.url))

/** A request without its id, which `request` assigns. */
type Unnumbered<T> = T extends unknown ? Omit<T, "id"> : never

/** Time one request to the receiver process may take, in milliseconds. */
const requestTimeoutMs = 10_000

/** Difference between the receiver's clock and this process's, measured over the IPC channel. */
export interface ClockOffset {
  /** Receiver time minus this process's time at the same moment, in milliseconds. */
  readonly offsetMs: number
  /** Round trip of the exchange the offset comes from; the offset is uncertain by half of it. */
  readonly roundTripMs: number
}

/**
 * A webhook receiver in a child process, on 127.0.0.1. Its healthy endpoint
 * (`url`) verifies each signature with the secret of the subscription named
 * at the end of the delivery id and responds at once, 200 or 401. For each
 * valid body it reports the `sequence` and an epoch time in milliseconds
 * (`performance.timeOrigin + performance.now()` in the child). Its
 * stalling endpoint (`stallUrl`), on another port and so another origin,
 * reads every request and never responds.
 */
export interface TimedReceiver {
  readonly url: string
  readonly stallUrl: string
  readonly pid: number
  /**
   * The clock offset measured at the start, which is subtracted from every
   * reported arrival time so that arrivals compare with this process's
   * `performance.timeOrigin + performance.now()`. Each process takes its
   * `timeOrigin` from the wall clock once, at its start, and on a busy
   * machine two processes can disagree by tens of milliseconds.
   */
  readonly offsetAtStart: ClockOffset
  /** Adds the secrets of subscriptions, as pairs of subscription id and secret. */
  addSecrets(entries: ReadonlyArray<readonly [string, string]>): Promise<void>
  /** Sets the function that gets each reported arrival, in this process's time; arrivals before the first call are dropped. */
  onArrival(handler: (sequence: number, arrivedAt: number) => void): void
  /** Reports pending arrivals, then returns the counters. */
  counters(): Promise<ReceiverCounters>
  /** Starts a new peak count of connections from the connections open now. */
  resetPeakConnections(): Promise<void>
  /** Measures the clock offset now, before any correction, as the exchange with the shortest round trip out of `samples`. */
  clockOffset(samples?: number): Promise<ClockOffset>
  /** Closes every connection to the stalling endpoint, so the sender gets a connection reset. */
  releaseStalled(): Promise<void>
  /** Closes both endpoints and ends the child process. */
  close(): Promise<void>
}

/** Starts the receiver process and waits until both endpoints listen. */
export const startTimedReceiver = async (): Promise<TimedReceiver> => {
  const child: ChildProcess = fork(childModule, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const pid = child.pid
  if (pid === undefined) throw new Error("The receiver process did not start.")
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  process.once("exit", killChild)

  let arrivalHandler: (sequence: number, arrivedAt: number) => void = () => {}
  let offsetMs = 0
  const replies = new Map<number, (reply: ReceiverReply) => void>()
  let nextId = 1

  const ready = new Promise<{ url: string; stallUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The receiver process was not ready within ${requestTimeoutMs} ms.`)), requestTimeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`The receiver process exited before it was ready (code ${code}, signal ${signal}).`))
    })
    child.on("message", (reply: ReceiverReply) => {
      switch (reply.type) {
        case "ready":
          clearTimeout(timer)
          return resolve({ url: reply.url, stallUrl: reply.stallUrl })
        case "arrivals":
          for (let index = 0; index < reply.pairs.length; index += 2) arrivalHandler(reply.pairs[index]!, reply.pairs[index + 1]! - offsetMs)
          return
        default: {
          const resolveReply = replies.get(reply.id)
          replies.delete(reply.id)
          resolveReply?.(reply)
        }
      }
    })
  })

  const request = <R extends ReceiverReply>(message: Unnumbered<ReceiverRequest>): Promise<R> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => {
        replies.delete(id)
        reject(new Error(`The receiver process did not respond to '${message.type}' within ${requestTimeoutMs} ms.`))
      }, requestTimeoutMs)
      replies.set(id, (reply) => {
        clearTimeout(timer)
        resolve(reply as R)
      })
      child.send({ ...message, id } as ReceiverRequest)
    })

  const { url, stallUrl } = await ready.catch((error: unknown) => {
    killChild()
    throw error
  })

  const clockOffset = async (samples = 20): Promise<ClockOffset> => {
    let best: ClockOffset = { offsetMs: Number.NaN, roundTripMs: Number.POSITIVE_INFINITY }
    for (let sample = 0; sample < samples; sample++) {
      const sentAt = epochNow()
      const reply = await request<Extract<ReceiverReply, { type: "clock" }>>({ type: "clock" })
      const receivedAt = epochNow()
      const roundTripMs = receivedAt - sentAt
      if (roundTripMs < best.roundTripMs) best = { offsetMs: reply.at - (sentAt + receivedAt) / 2, roundTripMs }
    }
    return best
  }

  const offsetAtStart = await clockOffset(200).catch((error: unknown) => {
    killChild()
    throw error
  })
  offsetMs = offsetAtStart.offsetMs

  return {
    url,
    stallUrl,
    pid,
    offsetAtStart,
    addSecrets: async (entries) => {
      // Large lists go in chunks so that one IPC message stays small.
      for (let start = 0; start < entries.length; start += 1_000) {
        await request({ type: "secrets", entries: entries.slice(start, start + 1_000) })
      }
    },
    onArrival: (handler) => {
      arrivalHandler = handler
    },
    counters: async () => (await request<Extract<ReceiverReply, { type: "counters" }>>({ type: "counters" })).counters,
    resetPeakConnections: async () => {
      await request({ type: "reset-peak" })
    },
    clockOffset,
    releaseStalled: async () => {
      await request({ type: "release-stalled" })
    },
    close: async () => {
      process.off("exit", killChild)
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once("exit", resolve))
      await request({ type: "close" }).catch(() => killChild())
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
      killChild()
    }
  }
}
