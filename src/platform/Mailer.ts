import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import nodemailer from "nodemailer"
import { AppConfig } from "./AppConfig.ts"

/** A plain-text mail to one recipient. */
export interface MailMessage {
  readonly to: string
  readonly subject: string
  readonly text: string
}

/** The mail server did not accept a message: unreachable, timed out, or rejected it. */
export class MailError extends Data.TaggedError("MailError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Time limits of one SMTP exchange, in milliseconds. Without them nodemailer
 * 10.6 waits 2 minutes for a connection and 10 minutes on an idle socket.
 */
const smtpTimeouts = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

/**
 * Sends mail. `send` succeeds only once the server has accepted the message,
 * and returns its Message-ID.
 */
export class Mailer extends Context.Tag("saleslab/Mailer")<Mailer, {
  readonly send: (message: MailMessage) => Effect.Effect<string, MailError>
}>() {
  /**
   * Sends through the SMTP server at `url` (`smtp://` with STARTTLS when the
   * server offers it, `smtps://` for TLS from the start), from `from`.
   */
  static readonly layerSmtpUrl = (url: Redacted.Redacted, from: string) =>
    Layer.scoped(Mailer, makeSmtp(url, from))

  /** Sends through `SMTP_URL` from `MAIL_FROM`. */
  static readonly layerSmtp = Layer.unwrapEffect(
    Effect.gen(function*() {
      const config = yield* AppConfig
      if (Option.isNone(config.smtpUrl)) {
        return Layer.fail(new MailError({ message: "SMTP_URL is not set, so mail cannot be sent by SMTP." }))
      }
      return Mailer.layerSmtpUrl(config.smtpUrl.value, config.mailFrom)
    })
  ).pipe(Layer.orDie)

  /** Logs each message instead of sending it and returns a made-up Message-ID, for setups without SMTP. */
  static readonly layerLog = Layer.succeed(Mailer, {
    send: (message) =>
      Effect.sync(() => `<${randomUUID()}@mailer.log>`).pipe(
        Effect.tap((messageId) =>
          Effect.logInfo("Mail logged, not sent").pipe(
            Effect.annotateLogs({ to: message.to, subject: message.subject, text: message.text, messageId })
          )
        )
      )
  })

  /** `layerSmtp` when `SMTP_URL` is set, `layerLog` otherwise. */
  static readonly layer = Layer.unwrapEffect(
    Effect.gen(function*() {
      const config = yield* AppConfig
      if (Option.isSome(config.smtpUrl)) return Mailer.layerSmtp
      yield* Effect.logWarning("SMTP_URL is not set: outgoing mail is logged, not sent")
      return Mailer.layerLog
    })
  )
}

const makeSmtp = (url: Redacted.Redacted, from: string) =>
  Effect.gen(function*() {
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() => nodemailer.createTransport({ url: Redacted.value(url), ...smtpTimeouts }, { from })),
      (transport) => Effect.sync(() => transport.close())
    )

    const send = (message: MailMessage) =>
      Effect.tryPromise({
        try: () => transport.sendMail({ to: message.to, subject: message.subject, text: message.text }),
        catch: (cause) =>
          new MailError({ message: `The mail server did not accept the message: ${errorText(cause)}`, cause })
      }).pipe(
        Effect.filterOrFail(
          (info) => info.rejected.length === 0,
          (info) => new MailError({ message: `The mail server rejected the recipient: ${info.response}` })
        ),
        Effect.map((info) => info.messageId),
        Effect.withSpan("Mailer.send")
      )

    return { send }
  })

const errorText = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)
