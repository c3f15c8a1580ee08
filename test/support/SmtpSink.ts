import { Context, Duration, Effect, Layer, Schedule } from "effect"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"

/** One message the sink accepted, with its headers and its text body decoded. */
export interface ReceivedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  /** User name the client authenticated with, or undefined without AUTH. */
  readonly user: string | undefined
  readonly subject: string
  readonly messageId: string
  readonly text: string
}

/** User name and password that `SmtpSink.url` carries and the sink accepts. */
export const sinkCredentials = { user: "briefs", password: "sink-password" }

/**
 * A local SMTP server on 127.0.0.1 for mail tests. It accepts AUTH over the
 * plain connection (no STARTTLS), records every message it accepts, and
 * rejects every message with 550 while rejecting is switched on.
 */
export class SmtpSink extends Context.Tag("test/SmtpSink")<SmtpSink, {
  /** `smtp://user:password@127.0.0.1:<port>`. */
  readonly url: string
  /** Messages accepted so far, in arrival order. */
  readonly messages: Effect.Effect<ReadonlyArray<ReceivedMail>>
  /** Number of messages rejected with 550 so far. */
  readonly rejectedCount: Effect.Effect<number>
  /** While true, every message is rejected with 550 after its data arrived. */
  readonly setRejecting: (rejecting: boolean) => Effect.Effect<void>
  /** Waits until at least `count` messages were accepted, failing after `timeout`. */
  readonly awaitMessages: (
    count: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<ReceivedMail>, Error>
}>() {
  static readonly layer = Layer.scoped(SmtpSink, Effect.suspend(() => makeSink))
}

/** Decodes a quoted-printable body: soft line breaks removed, `=XX` bytes read as UTF-8. */
const decodeQuotedPrintable = (body: string) => {
  const bytes: Array<number> = []
  const joined = body.replace(/=\r?\n/g, "")
  for (let index = 0; index < joined.length; index++) {
    const hex = joined.slice(index + 1, index + 3)
    if (joined[index] === "=" && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16))
      index += 2
    } else {
      bytes.push(...Buffer.from(joined[index]!, "utf8"))
    }
  }
  return Buffer.from(bytes).toString("utf8")
}

/** Splits a single-part message into unfolded headers (lower-case names) and its decoded text body. */
const parseMessage = (raw: string) => {
  const split = raw.indexOf("\r\n\r\n")
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ")
  const body = raw.slice(split + 4)
  const headers = new Map<string, string>()
  for (const line of head.split("\r\n")) {
    const colon = line.indexOf(":")
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  const encoding = headers.get("content-transfer-encoding")?.toLowerCase()
  const text = encoding === "quoted-printable"
    ? decodeQuotedPrintable(body)
    : encoding === "base64"
    ? Buffer.from(body, "base64").toString("utf8")
    : body
  return { headers, text: text.replace(/\r\n/g, "\n") }
}

const makeSink = Effect.gen(function*() {
  const accepted: Array<ReceivedMail> = []
  let rejected = 0
  let rejecting = false

  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth: (auth, _session, callback) =>
      auth.username === sinkCredentials.user && auth.password === sinkCredentials.password
        ? callback(null, { user: auth.username })
        : callback(new Error("Invalid user name or password")),
    onData: (stream, session, callback) => {
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("end", () => {
        if (rejecting) {
          rejected += 1
          const error = Object.assign(new Error("Message rejected by the test sink"), { responseCode: 550 })
          return callback(error)
        }
        const { headers, text } = parseMessage(Buffer.concat(chunks).toString("utf8"))
        accepted.push({
          from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((address) => address.address),
          user: session.user as string | undefined,
          subject: headers.get("subject") ?? "",
          messageId: headers.get("message-id") ?? "",
          text
        })
        callback()
      })
    }
  })

  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.server.address() as AddressInfo).port)))
    }),
    () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )

  const messages = Effect.sync(() => [...accepted])
  return {
    url: `smtp://${sinkCredentials.user}:${sinkCredentials.password}@127.0.0.1:${port}`,
    messages,
    rejectedCount: Effect.sync(() => rejected),
    setRejecting: (value: boolean) =>
      Effect.sync(() => {
        rejecting = value
      }),
    awaitMessages: (count: number, timeout: Duration.DurationInput = "20 seconds") =>
      messages.pipe(
        Effect.filterOrFail(
          (all) => all.length >= count,
          (all) => new Error(`The SMTP sink got ${all.length} of ${count} expected messages.`)
        ),
        Effect.retry(Schedule.spaced("50 millis")),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`The SMTP sink got fewer than ${count} messages within ${Duration.format(timeout)}.`)
        })
      )
  }
})
