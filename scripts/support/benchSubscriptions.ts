/**
 * Creates the subscriptions of a delivery benchmark, each in a tenant of
 * its own, so that one published event queues exactly one delivery.
 */
import { randomUUID } from "node:crypto"
import pg from "pg"
import { randomBase62 } from "../../src/platform/Secrets.ts"
import { ApiClient, createCompany } from "./api.ts"
import { mapConcurrently } from "./concurrency.ts"
import type { Target } from "./outboxPublisher.ts"

/** A benchmark subscription with the admin token of its tenant, which only the API setup has. */
export interface BenchSubscription extends Target {
  readonly adminToken: string | undefined
}

/** Method of creating the subscriptions: through the REST API, or with direct inserts into the service's tables. */
export type SetupMethod = "api" | "sql"

/** Options of `createSubscriptions`. */
export interface SubscriptionSetup {
  readonly method: SetupMethod
  readonly count: number
  /** URL every subscription delivers to. */
  readonly url: string
  readonly eventKinds: ReadonlyArray<string>
  readonly baseUrl: string
  readonly operatorToken: string
  /** Connection URL of the service's database, needed by the SQL method. */
  readonly databaseUrl: string | undefined
  /** Requests in flight at once with the API method. */
  readonly concurrency: number
  readonly onProgress?: (line: string) => void
}

/**
 * Creates `count` subscriptions. The API method creates a company through
 * `POST /api/admin/companies` and its subscription through
 * `POST /v1/webhooks`, as a tenant would. The SQL method inserts the
 * `companies` and `webhook_subscriptions` rows that those routes would
 * write, in batches of 1,000, with ids and secrets of the same formats.
 */
export const createSubscriptions = (setup: SubscriptionSetup): Promise<Array<BenchSubscription>> =>
  setup.method === "api" ? createThroughApi(setup) : createInSql(setup)

const createThroughApi = async (setup: SubscriptionSetup): Promise<Array<BenchSubscription>> => {
  const suffix = randomBase62(6)
  const started = performance.now()
  let created = 0
  let nextReport = setup.count / 4
  return mapConcurrently(Array.from({ length: setup.count }, (_, index) => index), setup.concurrency, async (index) => {
    const company = await createCompany(setup.baseUrl, setup.operatorToken, `Benchmark Tenant ${index} ${suffix}`)
    const subscription = await new ApiClient(setup.baseUrl, company.adminToken).request<{ id: string; secret: string }>(
      "POST",
      "/v1/webhooks",
      201,
      { url: setup.url, event_kinds: setup.eventKinds, description: "Delivery benchmark receiver" }
    )
    created += 1
    if (created >= nextReport && setup.onProgress !== undefined) {
      const seconds = (performance.now() - started) / 1000
      setup.onProgress(`${created} subscriptions in ${seconds.toFixed(1)} s (${(created / seconds).toFixed(0)} per second)`)
      nextReport += setup.count / 4
    }
    return { subscriptionId: subscription.id, companyId: company.companyId, secret: subscription.secret, adminToken: company.adminToken }
  })
}

const createInSql = async (setup: SubscriptionSetup): Promise<Array<BenchSubscription>> => {
  if (setup.databaseUrl === undefined) throw new Error("The SQL setup needs the service's database, whose URL is unknown.")
  const client = new pg.Client({ connectionString: setup.databaseUrl })
  await client.connect()
  try {
    const suffix = randomBase62(6)
    const subscriptions: Array<BenchSubscription> = Array.from({ length: setup.count }, () => ({
      subscriptionId: `sub_${randomBase62(24)}`,
      companyId: randomUUID(),
      secret: `sl_whsec_${randomBase62(40)}`,
      adminToken: undefined
    }))
    for (let start = 0; start < subscriptions.length; start += 1_000) {
      const batch = subscriptions.slice(start, start + 1_000)
      const createdAt = new Date()
      await client.query("BEGIN")
      await client.query(
        "INSERT INTO companies (id, name) SELECT * FROM unnest($1::uuid[], $2::text[])",
        [batch.map((subscription) => subscription.companyId), batch.map((_, index) => `Benchmark Tenant ${start + index} ${suffix}`)]
      )
      await client.query(
        `INSERT INTO webhook_subscriptions (id, company_id, url, event_kinds, description, status, secret, created_at, updated_at)
         SELECT id, company_id, $3, $4::text[], 'Delivery benchmark receiver', 'active', secret, $5, $5
         FROM unnest($1::text[], $2::uuid[], $6::text[]) AS rows (id, company_id, secret)`,
        [
          batch.map((subscription) => subscription.subscriptionId),
          batch.map((subscription) => subscription.companyId),
          setup.url,
          setup.eventKinds,
          createdAt,
          batch.map((subscription) => subscription.secret)
        ]
      )
      await client.query("COMMIT")
    }
    // Gives the planner the new row counts at once, as autovacuum would within a minute or so.
    await client.query("ANALYZE companies, webhook_subscriptions")
    setup.onProgress?.(`${subscriptions.length} subscriptions inserted`)
    return subscriptions
  } finally {
    await client.end()
  }
}
