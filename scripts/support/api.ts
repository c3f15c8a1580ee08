/**
 * A small JSON client for the Sales Lab REST API, shared by the developer
 * scripts and the Deno smoke test. It uses only `fetch`, so it runs
 * unchanged on Node and Deno.
 */

/** Time one API request may take before it is aborted, in milliseconds. */
export const requestTimeoutMs = 30_000

/** Raised when a response has a status other than the expected one. */
export class ApiRequestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string
  ) {
    super(`${method} ${path} returned ${status}: ${body.slice(0, 300)}`)
    this.name = "ApiRequestError"
  }
}

/** Sends JSON requests to one service with one bearer token. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string
  ) {}

  /** Returns a client for the same service that sends `token` instead. */
  withToken(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token)
  }

  /**
   * Sends `body` as JSON and returns the parsed response. Fails with
   * `ApiRequestError` unless the status is `expectedStatus`.
   */
  async request<A>(method: string, path: string, expectedStatus: number, body?: unknown): Promise<A> {
    const headers: Record<string, string> = { accept: "application/json" }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    if (body !== undefined) headers["content-type"] = "application/json"

    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(requestTimeoutMs) }
    if (body !== undefined) init.body = JSON.stringify(body)
    const response = await fetch(new URL(path, this.baseUrl), init)
    const text = await response.text()
    if (response.status !== expectedStatus) throw new ApiRequestError(method, path, response.status, text)
    return (text === "" ? undefined : JSON.parse(text)) as A
  }
}

/** A company created through the operator route, with its first admin token. */
export interface CreatedCompany {
  readonly companyId: string
  readonly adminToken: string
}

/** The resources that one end-to-end run needs: a tenant, a rep, a subscription and a scenario. */
export interface DemoTenant extends CreatedCompany {
  readonly userId: string
  readonly scenarioId: string
  readonly subscriptionId: string
  /** Signing secret of the subscription, shown once at creation. */
  readonly subscriptionSecret: string
}

/** Creates a company through `POST /api/admin/companies` with the operator token. */
export const createCompany = async (baseUrl: string, operatorToken: string, name: string): Promise<CreatedCompany> => {
  const created = await new ApiClient(baseUrl, operatorToken).request<{
    company: { id: string }
    admin_token: string
  }>("POST", "/api/admin/companies", 201, { name })
  return { companyId: created.company.id, adminToken: created.admin_token }
}

/** Options of `createDemoTenant`. */
export interface DemoTenantOptions {
  readonly baseUrl: string
  readonly operatorToken: string
  /** URL the subscription delivers to. */
  readonly receiverUrl: string
  /** Event kinds of the subscription. Empty means every kind. */
  readonly eventKinds?: ReadonlyArray<string>
  /** Called before each step with a line that describes it. */
  readonly onStep?: (line: string) => void
}

/**
 * Creates a company, a rep, a webhook subscription to `receiverUrl` and a
 * scenario, each through the public API, and returns their ids.
 */
export const createDemoTenant = async (options: DemoTenantOptions): Promise<DemoTenant> => {
  const step = options.onStep ?? (() => {})
  const suffix = crypto.randomUUID().slice(0, 8)

  step("Creating a company through the operator route")
  const company = await createCompany(options.baseUrl, options.operatorToken, `Demo Company ${suffix}`)
  const api = new ApiClient(options.baseUrl, company.adminToken)

  step("Creating a rep")
  const user = await api.request<{ id: string }>("POST", "/v1/users", 201, {
    email: `rep-${suffix}@example.com`,
    name: "Demo Rep",
    role: "rep"
  })

  step(`Subscribing ${options.receiverUrl} to webhooks`)
  const subscription = await api.request<{ id: string; secret: string }>("POST", "/v1/webhooks", 201, {
    url: options.receiverUrl,
    event_kinds: options.eventKinds ?? [],
    description: "Local receiver of the demo scripts"
  })

  step("Creating a scenario")
  const scenario = await api.request<{ id: string }>("POST", "/v1/scenarios", 201, {
    prompt: "A CFO pushes back on price in the second call; hold value before discussing discounts."
  })

  return {
    ...company,
    userId: user.id,
    scenarioId: scenario.id,
    subscriptionId: subscription.id,
    subscriptionSecret: subscription.secret
  }
}

/** A started practice session and the variables the voice agent echoes back in its post-call webhook. */
export interface StartedCall {
  readonly sessionId: string
  /** `saleslab_session_id`, `saleslab_company_id`, `saleslab_user_id` and `saleslab_scenario_id`. */
  readonly dynamicVariables: Readonly<Record<string, string>>
}

/** Starts a practice call for `userId` on `scenarioId`. */
export const startPracticeCall = async (api: ApiClient, scenarioId: string, userId: string): Promise<StartedCall> => {
  const call = await api.request<{ session_id: string; dynamic_variables: Record<string, string> }>(
    "POST",
    "/v1/practice-calls",
    201,
    { scenario_id: scenarioId, user_id: userId }
  )
  return { sessionId: call.session_id, dynamicVariables: call.dynamic_variables }
}
