import { describe, expect, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { createServer } from "node:net"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { Mailer, MailError } from "../../src/platform/Mailer.ts"
import { sinkCredentials, SmtpSink } from "../support/SmtpSink.ts"

const message = {
  to: "riley.rep@example.com",
  subject: "Your coaching brief",
  text: "Hi Riley,\n\nStrong week.\n"
}

/** Finds a loopback port with nothing listening on it. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const sendWith = (settings: Parameters<typeof AppConfig.layerTest>[0]) =>
  Effect.flatMap(Mailer, (mailer) => mailer.send(message)).pipe(
    Effect.provide(Mailer.layer),
    Effect.provide(AppConfig.layerTest(settings))
  )

describe("Mailer", () => {
  layer(SmtpSink.layer, { excludeTestServices: true })((it) => {
    it.effect("SMTP mailer delivers to the server", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        const before = (yield* sink.messages).length

        const messageId = yield* sendWith({
          smtpUrl: Option.some(Redacted.make(sink.url)),
          mailFrom: "Sales Lab <coaching@example.com>"
        })

        const received = (yield* sink.messages).slice(before)
        expect(received).toHaveLength(1)
        expect(received[0]!.messageId).toBe(messageId)
        expect(received[0]!.from).toBe("coaching@example.com")
        expect(received[0]!.to).toEqual(["riley.rep@example.com"])
        expect(received[0]!.user).toBe(sinkCredentials.user)
        expect(received[0]!.subject).toBe("Your coaching brief")
        expect(received[0]!.text.trimEnd()).toBe(message.text.trimEnd())
      }))

    it.effect("SMTP mailer fails on rejection", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        const before = (yield* sink.messages).length
        const rejectedBefore = yield* sink.rejectedCount

        yield* sink.setRejecting(true)
        const failure = yield* Effect.flip(sendWith({ smtpUrl: Option.some(Redacted.make(sink.url)) })).pipe(
          Effect.ensuring(sink.setRejecting(false))
        )

        expect(failure).toBeInstanceOf(MailError)
        expect(failure.message).toContain("550")
        expect(yield* sink.rejectedCount).toBe(rejectedBefore + 1)
        expect((yield* sink.messages).length).toBe(before)
      }))

    it.effect("SMTP mailer fails on wrong password", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        const wrongPassword = sink.url.replace(sinkCredentials.password, "not-the-password")

        const failure = yield* Effect.flip(sendWith({ smtpUrl: Option.some(Redacted.make(wrongPassword)) }))

        expect(failure).toBeInstanceOf(MailError)
        expect(failure.message).toContain("did not accept")
      }))

    it.effect("SMTP mailer fails when unreachable", () =>
      Effect.gen(function*() {
        const port = yield* closedPort

        const failure = yield* Effect.flip(sendWith({ smtpUrl: Option.some(Redacted.make(`smtp://127.0.0.1:${port}`)) }))

        expect(failure).toBeInstanceOf(MailError)
        expect(failure.message).toContain("ECONNREFUSED")
      }))

    it.effect("log mailer is used without SMTP_URL", () =>
      Effect.gen(function*() {
        const sink = yield* SmtpSink
        const before = (yield* sink.messages).length

        const first = yield* sendWith({})
        const second = yield* sendWith({})

        expect(first).toMatch(/^<[0-9a-f-]{36}@mailer\.log>$/)
        expect(second).not.toBe(first)
        expect((yield* sink.messages).length).toBe(before)
      }))
  })
})
