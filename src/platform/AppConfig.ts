import { Config, ConfigProvider, Context, Cron, DateTime, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { tracingConfig, type TracingSettings } from "./TracingConfig.ts"

/**
 * Every setting of the service, read once at start-up through Effect `Config`
 * (environment variables by default). Secrets are `Redacted`, so logging the
 * whole value prints `<redacted>` in their place.
 */
export interface AppSettings {
  /** TCP port of the HTTP server. */
  readonly port: number
  /** Interface the HTTP server binds to. */
  readonly host: string
  /** Connection string of the PostgreSQL server; none means the embedded server in `dataDirectory`. */
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  /** Folder of the embedded PostgreSQL cluster, used only without `databaseUrl`. */
  readonly dataDirectory: string
  /** Bearer token of the operator routes; none means every operator route returns 401. */
  readonly operatorToken: Option.Option<Redacted.Redacted>
  /** Secret that signs ElevenLabs post-call webhooks; none means every such webhook returns 401. */
  readonly elevenLabsWebhookSecret: Option.Option<Redacted.Redacted>
  /** ElevenLabs API key. With it, a practice call also requests a signed conversation URL from ElevenLabs. */
  readonly elevenLabsApiKey: Option.Option<Redacted.Redacted>
  /** ElevenLabs agent that runs practice calls, used with `elevenLabsApiKey`. */
  readonly elevenLabsAgentId: Option.Option<string>
  /** Base URL of the ElevenLabs REST API, without a trailing slash. */
  readonly elevenLabsApiUrl: string
  /** Time an outbound delivery attempt may take before it is aborted and retried. */
  readonly deliveryTimeout: Duration.Duration
  /** Interval between two sweeps for due deliveries. */
  readonly sweepInterval: Duration.Duration
  /** Deliveries of one subscription that may be in flight at once. */
  readonly subscriptionConcurrency: number
  /** Delivery requests that one runner may have in flight at once, over all subscriptions, until their responses are in. */
  readonly maxAttemptsInFlight: number
  /** Interval between two probe notifications that check the delivery LISTEN connection is alive. */
  readonly listenProbeInterval: Duration.Duration
  /**
   * Whether subscription URLs may point at loopback, private, link-local or
   * reserved addresses. When false, such URLs are rejected on create and
   * update, and the sender refuses hosts that resolve only to them.
   */
  readonly allowPrivateTargets: boolean
  /** Minimum level of the JSON log lines: trace, debug, info, warning, error or none. */
  readonly logLevel: string
  /** Trace export over OTLP/HTTP. None, the default, means spans are not exported. */
  readonly tracing: Option.Option<TracingSettings>
  /** Requests one API token may make per minute; past it, requests are rejected with 429. */
  readonly rateLimitPerMinute: number
  /** Requests one API token may make per day; past it, requests are rejected with 429. */
  readonly rateLimitPerDay: number
  /** SMTP server that sends mail, such as `smtp://user:password@host:587`; none means mail is only logged. */
  readonly smtpUrl: Option.Option<Redacted.Redacted>
  /** Sender of outgoing mail, an address or `Name <address>`. */
  readonly mailFrom: string
  /** Cron expression (5 or 6 fields) of the weekly coaching-briefs job, read in `coachingBriefsTimeZone`. */
  readonly coachingBriefsCron: string
  /** IANA time zone of the coaching-briefs schedule and of the Monday-to-Sunday weeks that briefs cover. */
  readonly coachingBriefsTimeZone: string
  /** Secret that signs Stripe webhooks (`whsec_...`); none means every Stripe webhook is rejected with 401. */
  readonly stripeWebhookSecret: Option.Option<Redacted.Redacted>
  /** Stripe secret API key, used only to construct the Stripe client that verifies webhooks. */
  readonly stripeApiKey: Option.Option<Redacted.Redacted>
  /** When the wage-index snapshot job runs, in the time zone carried by the cron, which also dates the snapshot label. */
  readonly wageIndexSchedule: Cron.Cron
  /** Public page of the wage index, sent as `public_url` in every snapshot. */
  readonly wageIndexPublicUrl: string
  /** When the tournament-advance job creates next rounds, in UTC. */
  readonly tournamentAdvanceSchedule: Cron.Cron
  /** When the recompute-scores job runs, in the time zone carried by the cron. */
  readonly recomputeScoresSchedule: Cron.Cron
  /** When the prune-deliveries job runs, in UTC. */
  readonly retentionSchedule: Cron.Cron
  /** Age past which finished deliveries, their attempts and unreferenced events are deleted. */
  readonly deliveryRetention: Duration.Duration
  /** Warehouse logins: what their credentials show, and their limits. */
  readonly warehouse: WarehouseSettings
  /** Cluster runner settings of this process. */
  readonly cluster: ClusterSettings
}

/** Settings of the per-company PostgreSQL logins that read the warehouse views. */
export interface WarehouseSettings {
  /** Host shown in new credentials. None: the address the service's own connection reaches PostgreSQL at. */
  readonly host: Option.Option<string>
  /** Port shown in new credentials. None: the port of the service's own connection. */
  readonly port: Option.Option<number>
  /** Connections one warehouse login may hold at once. */
  readonly connectionLimit: number
  /** Warehouse logins one company may have at once, revoked ones not counted. */
  readonly loginsPerCompany: number
  /** Maximum time a warehouse login's statement may run before it is cancelled. */
  readonly statementTimeout: Duration.Duration
}

/** A host and TCP port of a cluster runner. */
export interface RunnerEndpoint {
  readonly host: string
  readonly port: number
}

/** Settings of the delivery cluster runner in this process. */
export interface ClusterSettings {
  /**
   * `single`: this process is the only runner and needs no runner socket.
   * `socket`: runners sharing one database reach each other over TCP.
   */
  readonly mode: "single" | "socket"
  /**
   * Address other runners use to reach this one. It also names the runner in
   * the `cluster_runners` table and in the `runner` label of the queue gauges,
   * in both modes.
   */
  readonly runnerAddress: RunnerEndpoint
  /** Address the runner socket listens on in `socket` mode. Unless set, the runner address. */
  readonly listenAddress: RunnerEndpoint
}

/**
 * Reads the schedule of a job: a cron expression and, when `timeZone` names
 * a variable, the IANA time zone it runs in (UTC otherwise, and by default).
 * An invalid expression or zone fails at start-up.
 */
const scheduleConfig = (options: {
  readonly cron: string
  readonly defaultCron: string
  readonly description: string
  readonly timeZone?: string
  readonly timeZoneDescription?: string
}) =>
  Config.all({
    expression: Config.string(options.cron).pipe(
      Config.withDefault(options.defaultCron),
      Config.withDescription(options.description)
    ),
    timeZone: options.timeZone === undefined ? Config.succeed("UTC") : Config.string(options.timeZone).pipe(
      Config.withDefault("UTC"),
      Config.withDescription(options.timeZoneDescription ?? "IANA time zone of the schedule.")
    )
  }).pipe(Config.mapAttempt(({ expression, timeZone }) => Cron.unsafeParse(expression, timeZone)))

const runnerHost = (name: string) =>
  Config.string(name).pipe(
    Config.validate({ message: "must be a host name or IP address, not empty", validation: (host) => host.trim() !== "" })
  )

const clusterConfig = Config.all({
  mode: Config.literal("single", "socket")("CLUSTER_MODE").pipe(
    Config.withDefault("single" as const),
    Config.withDescription("Cluster mode: single (one runner per database) or socket (several runners over TCP).")
  ),
  host: runnerHost("RUNNER_HOST").pipe(
    Config.withDefault("127.0.0.1"),
    Config.withDescription("Host or IP address at which other runners reach this runner; must be reachable from their machines.")
  ),
  port: Config.port("RUNNER_PORT").pipe(
    Config.withDefault(34431),
    Config.withDescription("TCP port at which other runners reach this runner.")
  ),
  listenHost: runnerHost("RUNNER_LISTEN_HOST").pipe(
    Config.option,
    Config.withDescription("Interface the runner socket binds to. Unset: RUNNER_HOST.")
  ),
  listenPort: Config.port("RUNNER_LISTEN_PORT").pipe(
    Config.option,
    Config.withDescription("TCP port the runner socket binds to. Unset: RUNNER_PORT.")
  )
}).pipe(Config.map(({ host, listenHost, listenPort, mode, port }): ClusterSettings => ({
  mode,
  runnerAddress: { host, port },
  listenAddress: { host: Option.getOrElse(listenHost, () => host), port: Option.getOrElse(listenPort, () => port) }
})))

const settingsConfig = Config.all({
  port: Config.port("PORT").pipe(
    Config.withDefault(8080),
    Config.withDescription("TCP port of the HTTP server.")
  ),
  host: Config.string("HOST").pipe(
    Config.withDefault("0.0.0.0"),
    Config.withDescription("Interface the HTTP server binds to.")
  ),
  databaseUrl: Config.redacted("DATABASE_URL").pipe(
    Config.option,
    Config.withDescription("PostgreSQL connection string. Unset: an embedded PostgreSQL in DATA_DIR.")
  ),
  dataDirectory: Config.string("DATA_DIR").pipe(
    Config.withDefault(".data/postgres"),
    Config.withDescription("Folder of the embedded PostgreSQL cluster, used only without DATABASE_URL.")
  ),
  operatorToken: Config.redacted("OPERATOR_TOKEN").pipe(
    Config.option,
    Config.withDescription("Bearer token of the operator routes. Unset: operator routes answer 401.")
  ),
  elevenLabsWebhookSecret: Config.redacted("ELEVENLABS_WEBHOOK_SECRET").pipe(
    Config.option,
    Config.withDescription("Secret of the ElevenLabs post-call webhook. Unset: that webhook answers 401.")
  ),
  elevenLabsApiKey: Config.redacted("ELEVENLABS_API_KEY").pipe(
    Config.option,
    Config.withDescription("ElevenLabs API key. Set: practice calls also return a signed conversation URL.")
  ),
  elevenLabsAgentId: Config.string("ELEVENLABS_AGENT_ID").pipe(
    Config.option,
    Config.withDescription("ElevenLabs agent id used for signed conversation URLs.")
  ),
  elevenLabsApiUrl: Config.string("ELEVENLABS_API_URL").pipe(
    Config.withDefault("https://api.elevenlabs.io"),
    Config.withDescription("Base URL of the ElevenLabs REST API, without a trailing slash.")
  ),
  deliveryTimeout: Config.duration("WEBHOOK_TIMEOUT").pipe(
    Config.validate({ message: "must be at least 100 millis", validation: (d) => Duration.toMillis(d) >= 100 }),
    Config.withDefault(Duration.seconds(8)),
    Config.withDescription("Time one delivery attempt may take before it is aborted and retried.")
  ),
  sweepInterval: Config.duration("WEBHOOK_SWEEP_INTERVAL").pipe(
    Config.validate({ message: "must be at least 100 millis", validation: (d) => Duration.toMillis(d) >= 100 }),
    Config.withDefault(Duration.seconds(5)),
    Config.withDescription("Interval between two sweeps that wake subscriptions with due deliveries.")
  ),
  subscriptionConcurrency: Config.integer("WEBHOOK_SUBSCRIPTION_CONCURRENCY").pipe(
    Config.validate({ message: "must be between 1 and 50", validation: (n) => n >= 1 && n <= 50 }),
    Config.withDefault(4),
    Config.withDescription("Deliveries of one subscription in flight at once (1 to 50).")
  ),
  maxAttemptsInFlight: Config.integer("WEBHOOK_MAX_IN_FLIGHT").pipe(
    Config.validate({ message: "must be between 1 and 10000", validation: (n) => n >= 1 && n <= 10_000 }),
    Config.withDefault(128),
    Config.withDescription("Delivery requests one runner may have in flight at once, over all subscriptions, until their responses are in (1 to 10000).")
  ),
  listenProbeInterval: Config.duration("WEBHOOK_LISTEN_PROBE_INTERVAL").pipe(
    Config.withDefault(Duration.seconds(15)),
    Config.withDescription("Interval between probes of the LISTEN connection; a lost probe reconnects it.")
  ),
  allowPrivateTargets: Config.boolean("WEBHOOK_ALLOW_PRIVATE_TARGETS").pipe(
    Config.withDefault(false),
    Config.withDescription(
      "Whether webhook URLs may point at loopback, private, link-local or reserved addresses (true or false)."
    )
  ),
  logLevel: Config.string("LOG_LEVEL").pipe(
    Config.validate({
      message: "must be one of trace, debug, info, warning, error or none",
      validation: (level) => ["trace", "debug", "info", "warning", "error", "none"].includes(level.toLowerCase())
    }),
    Config.withDefault("info"),
    Config.withDescription("Minimum level of log lines: trace, debug, info, warning, error or none.")
  ),
  tracing: tracingConfig,
  rateLimitPerMinute: Config.integer("RATE_LIMIT_PER_MINUTE").pipe(
    Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(600),
    Config.withDescription("Requests one API token may make per minute; past it, requests are rejected with 429.")
  ),
  rateLimitPerDay: Config.integer("RATE_LIMIT_PER_DAY").pipe(
    Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(10_000),
    Config.withDescription("Requests one API token may make per day; past it, requests are rejected with 429.")
  ),
  smtpUrl: Config.redacted("SMTP_URL").pipe(
    Config.option,
    Config.withDescription("SMTP server for outgoing mail, such as smtp://user:password@host:587. Unset: mail is logged, not sent.")
  ),
  mailFrom: Config.string("MAIL_FROM").pipe(
    Config.withDefault("Sales Lab <coaching@saleslab.cloud>"),
    Config.withDescription("Sender of outgoing mail, an address or Name <address>.")
  ),
  coachingBriefsCron: Config.string("COACHING_BRIEFS_CRON").pipe(
    Config.validate({
      message: "must be a cron expression of 5 or 6 fields",
      validation: (expression) => Either.isRight(Cron.parse(expression))
    }),
    Config.withDefault("0 18 * * 0"),
    Config.withDescription("When the weekly coaching-briefs job runs, as a cron expression. Default: Sunday 18:00.")
  ),
  coachingBriefsTimeZone: Config.string("COACHING_BRIEFS_TIME_ZONE").pipe(
    Config.validate({
      message: "must be an IANA time zone such as Europe/Berlin",
      validation: (zone) => Option.isSome(DateTime.zoneMakeNamed(zone))
    }),
    Config.withDefault("UTC"),
    Config.withDescription("IANA time zone of the coaching-briefs schedule and of the Monday-to-Sunday weeks briefs cover.")
  ),
  stripeWebhookSecret: Config.redacted("STRIPE_WEBHOOK_SECRET").pipe(
    Config.option,
    Config.withDescription("Signing secret of the Stripe webhook endpoint (whsec_...). Unset: every Stripe webhook is rejected with 401.")
  ),
  stripeApiKey: Config.redacted("STRIPE_API_KEY").pipe(
    Config.option,
    Config.withDescription("Stripe secret API key. Only constructs the client that verifies webhooks; no Stripe API call is made.")
  ),
  wageIndexSchedule: scheduleConfig({
    cron: "WAGE_INDEX_CRON",
    defaultCron: "45 6 * * *",
    description: "Cron expression (minute hour day month weekday) of the nightly wage-index snapshot.",
    timeZone: "WAGE_INDEX_TIME_ZONE",
    timeZoneDescription: "IANA time zone of WAGE_INDEX_CRON and of the month in snapshot labels, such as UTC."
  }),
  wageIndexPublicUrl: Config.string("WAGE_INDEX_PUBLIC_URL").pipe(
    Config.withDefault("https://saleslab.cloud/wage-index"),
    Config.withDescription("Public page of the wage index, sent as public_url with every snapshot.")
  ),
  tournamentAdvanceSchedule: scheduleConfig({
    cron: "TOURNAMENT_ADVANCE_CRON",
    defaultCron: "*/5 * * * *",
    description: "Cron expression (minute hour day month weekday, UTC) of the job that creates next tournament rounds."
  }),
  recomputeScoresSchedule: scheduleConfig({
    cron: "RECOMPUTE_SCORES_CRON",
    defaultCron: "45 6 * * *",
    description: "Cron expression (minute hour day month weekday) of the nightly Sales Lab Score recompute.",
    timeZone: "RECOMPUTE_SCORES_TIME_ZONE",
    timeZoneDescription: "IANA time zone of RECOMPUTE_SCORES_CRON, such as UTC or Europe/Berlin."
  }),
  retentionSchedule: scheduleConfig({
    cron: "RETENTION_CRON",
    defaultCron: "30 3 * * *",
    description: "Cron expression (minute hour day month weekday, UTC) of the job that prunes old deliveries."
  }),
  deliveryRetention: Config.duration("DELIVERY_RETENTION").pipe(
    Config.validate({
      message: "must be at least 1 hour",
      validation: (retention) => Duration.greaterThanOrEqualTo(retention, Duration.hours(1))
    }),
    Config.withDefault(Duration.days(30)),
    Config.withDescription("Age past which finished deliveries and unreferenced events are deleted, such as 30 days.")
  ),
  warehouse: Config.all({
    host: Config.string("WAREHOUSE_HOST").pipe(
      Config.option,
      Config.withDescription("Host that warehouse credentials name. Unset: the address the service reaches PostgreSQL at.")
    ),
    port: Config.port("WAREHOUSE_PORT").pipe(
      Config.option,
      Config.withDescription("Port that warehouse credentials name. Unset: the port the service reaches PostgreSQL at.")
    ),
    connectionLimit: Config.integer("WAREHOUSE_CONNECTION_LIMIT").pipe(
      Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
      Config.withDefault(5),
      Config.withDescription("Connections one warehouse login may hold at once.")
    ),
    loginsPerCompany: Config.integer("WAREHOUSE_LOGINS_PER_COMPANY").pipe(
      Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
      Config.withDefault(5),
      Config.withDescription("Warehouse logins one company may have at once, revoked ones not counted.")
    ),
    statementTimeout: Config.duration("WAREHOUSE_STATEMENT_TIMEOUT").pipe(
      Config.validate({
        message: "must be at least 1 second",
        validation: (timeout) => Duration.greaterThanOrEqualTo(timeout, Duration.seconds(1))
      }),
      Config.withDefault(Duration.seconds(60)),
      Config.withDescription("Longest a warehouse login's statement may run before it is cancelled, such as 60 seconds.")
    )
  }),
  cluster: clusterConfig
})

/** The service's settings, as a context service so tests can provide their own. */
export class AppConfig extends Context.Tag("saleslab/AppConfig")<AppConfig, AppSettings>() {
  /** Settings read from the environment. */
  static readonly layer = Layer.effect(AppConfig, settingsConfig)

  /**
   * Settings for tests: the defaults with `overrides` applied, no environment
   * read. Private targets are allowed unless overridden, because test
   * receivers listen on loopback.
   */
  static readonly layerTest = (overrides: Partial<AppSettings> = {}) =>
    Layer.effect(
      AppConfig,
      Effect.map(
        Effect.withConfigProvider(settingsConfig, ConfigProvider.fromMap(new Map())),
        (defaults) => ({ ...defaults, allowPrivateTargets: true, ...overrides })
      )
    )
}
