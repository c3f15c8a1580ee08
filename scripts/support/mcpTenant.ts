/**
 * Shared setup of the MCP scripts: the environment they start the service
 * with, and a company whose token can read scored practice sessions.
 */
import { randomUUID } from "node:crypto"
import { ApiClient, createCompany, startPracticeCall } from "./api.ts"
import { loadPostCallSample, postCallBodyFor, postSignedPostCall } from "./postCall.ts"

/** Secrets of one service run, new for every run. */
export interface ServiceSecrets {
  /** `OPERATOR_TOKEN`, the bearer token of the operator route that creates companies. */
  readonly operatorToken: string
  /** `ELEVENLABS_WEBHOOK_SECRET`, which signs the post-call webhooks that score the sessions. */
  readonly elevenLabsSecret: string
}

export const newServiceSecrets = (): ServiceSecrets => ({
  operatorToken: `operator-${randomUUID()}`,
  elevenLabsSecret: `wsec_${randomUUID().replaceAll("-", "")}`
})

/**
 * Returns the service environment of the MCP scripts: the secrets,
 * warning-level logs and, when given, the per-token rate limits. Without
 * `rateLimit` the service keeps its defaults of 600 requests a minute and
 * 10,000 a day.
 */
export const mcpServiceEnv = (secrets: ServiceSecrets, rateLimit?: { perMinute: number; perDay: number }): Record<string, string> => ({
  OPERATOR_TOKEN: secrets.operatorToken,
  ELEVENLABS_WEBHOOK_SECRET: secrets.elevenLabsSecret,
  LOG_LEVEL: "warning",
  ...(rateLimit === undefined
    ? {}
    : { RATE_LIMIT_PER_MINUTE: String(rateLimit.perMinute), RATE_LIMIT_PER_DAY: String(rateLimit.perDay) })
})

/** A company with a rep, a scenario and scored sessions, created through the REST API. */
export interface ScoredTenant {
  readonly companyId: string
  /** The company's first token, with the read, write and admin scopes. */
  readonly token: string
  readonly userId: string
  readonly scenarioId: string
  /** The scored sessions, in the order they were started. */
  readonly sessionIds: ReadonlyArray<string>
}

/** Options of `createScoredTenant`. */
export interface ScoredTenantOptions {
  readonly baseUrl: string
  readonly secrets: ServiceSecrets
  /** Number of practice sessions to start and score. */
  readonly sessions: number
  /** Called before each step with a line that describes it. */
  readonly onStep?: (line: string) => void
}

/**
 * Creates a company, a rep and a scenario, then starts `sessions`
 * practice calls and completes each with a signed ElevenLabs post-call
 * webhook, which scores it. Throws when the service does not report a
 * webhook as processed.
 */
export const createScoredTenant = async (options: ScoredTenantOptions): Promise<ScoredTenant> => {
  const step = options.onStep ?? (() => {})
  const suffix = randomUUID().slice(0, 8)

  step("Creating a company through the operator route")
  const company = await createCompany(options.baseUrl, options.secrets.operatorToken, `MCP Company ${suffix}`)
  const api = new ApiClient(options.baseUrl, company.adminToken)

  step("Creating a rep and a scenario")
  const user = await api.request<{ id: string }>("POST", "/v1/users", 201, {
    email: `rep-${suffix}@example.com`,
    name: "MCP Rep",
    role: "rep"
  })
  const scenario = await api.request<{ id: string }>("POST", "/v1/scenarios", 201, {
    prompt: "A CFO pushes back on price in the second call; hold value before discussing discounts."
  })

  step(`Starting and scoring ${options.sessions} practice sessions`)
  const sample = loadPostCallSample()
  const sessionIds: Array<string> = []
  for (let index = 0; index < options.sessions; index++) {
    const call = await startPracticeCall(api, scenario.id, user.id)
    const response = await postSignedPostCall(options.baseUrl, options.secrets.elevenLabsSecret, postCallBodyFor(sample, call))
    const outcome = response.status === 200 ? (JSON.parse(response.text) as { status?: string }).status : undefined
    if (outcome !== "processed") {
      throw new Error(`Post-call webhook of session ${call.sessionId} failed, expected status "processed": ${response.status} ${response.text.slice(0, 300)}`)
    }
    sessionIds.push(call.sessionId)
  }

  return { companyId: company.companyId, token: company.adminToken, userId: user.id, scenarioId: scenario.id, sessionIds }
}
