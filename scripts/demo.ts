/**
 * Walks through the integration surface against a running service. It
 * creates a tenant, a rep, a webhook subscription to a receiver on
 * 127.0.0.1, a scenario and a practice call, and posts the signed sample
 * post-call webhook. Then it prints each delivery as the receiver verified
 * it, and the delivery log.
 *
 *   OPERATOR_TOKEN=... ELEVENLABS_WEBHOOK_SECRET=... npm run demo
 *
 * SALESLAB_URL (default http://127.0.0.1:8080), OPERATOR_TOKEN and
 * ELEVENLABS_WEBHOOK_SECRET must match the service's own settings. Exits
 * with status 1 when a step fails or an expected delivery is missing.
 */
import { ApiClient, createDemoTenant, startPracticeCall } from "./support/api.ts"
import { fixturePath, loadPostCallSample, postCallBodyFor, postSignedPostCall } from "./support/postCall.ts"
import { type ReceivedDelivery, startReceiver } from "./support/receiver.ts"

/** Event kinds that one completed practice call sends to a subscription without an assignment. */
const expectedKinds = ["session.completed", "session.scorecard_finalized"]
const deliveryTimeoutMs = 30_000

interface DeliveryLogEntry {
  readonly delivery_id: string
  readonly event_kind: string
  readonly status: string
  readonly attempts: number
  readonly last_status_code: number | null
  readonly delivered_at: string | null
}

const requiredSetting = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") {
    console.error(`${name} is missing: set it to the value the service was started with.`)
    process.exit(2)
  }
  return value
}

const step = (line: string) => console.log(`> ${line}`)

const excerpt = (body: string, length = 110) => (body.length > length ? `${body.slice(0, length - 1)}…` : body)

const printDelivery = (delivery: ReceivedDelivery) => {
  console.log(`  received ${delivery.eventKind}`)
  console.log(`    delivery id: ${delivery.deliveryId}`)
  console.log(`    signature valid: ${delivery.signatureValid ? "yes" : "no"}`)
  console.log(`    payload: ${excerpt(delivery.body)}`)
}

const printDeliveryLog = (entries: ReadonlyArray<DeliveryLogEntry>) => {
  const rows = entries.map((entry) => [
    entry.event_kind,
    entry.status,
    String(entry.attempts),
    entry.last_status_code === null ? "-" : String(entry.last_status_code),
    entry.delivery_id
  ])
  const header = ["event kind", "status", "attempts", "last code", "delivery id"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  for (const row of [header, ...rows]) {
    console.log(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ")}`.trimEnd())
  }
}

/**
 * Fetches the delivery log of a subscription, polling for up to 5 s while an
 * entry is still pending: the receiver responds before the sender records
 * the attempt.
 */
const settledDeliveryLog = async (api: ApiClient, subscriptionId: string) => {
  const deadline = Date.now() + 5_000
  for (;;) {
    const log = await api.request<{ data: Array<DeliveryLogEntry> }>(
      "GET",
      `/v1/webhooks/${subscriptionId}/deliveries`,
      200
    )
    const pending = log.data.some((entry) => entry.status === "pending")
    if (!pending || Date.now() > deadline) return log.data
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const baseUrl = process.env.SALESLAB_URL || "http://127.0.0.1:8080"
const operatorToken = requiredSetting("OPERATOR_TOKEN")
const elevenLabsSecret = requiredSetting("ELEVENLABS_WEBHOOK_SECRET")

const receiver = await startReceiver(printDelivery)
let exitCode = 0
try {
  step(`Service: ${baseUrl}`)
  step(`Receiver listening at ${receiver.url}`)
  const tenant = await createDemoTenant({ baseUrl, operatorToken, receiverUrl: receiver.url, onStep: step })
  receiver.setSecret(tenant.subscriptionSecret)
  console.log(`  company ${tenant.companyId}, rep ${tenant.userId}`)
  console.log(`  subscription ${tenant.subscriptionId}, scenario ${tenant.scenarioId}`)

  step("Starting a practice call")
  const api = new ApiClient(baseUrl, tenant.adminToken)
  const call = await startPracticeCall(api, tenant.scenarioId, tenant.userId)
  console.log(`  session ${call.sessionId}`)

  step(`Posting the signed post-call webhook (${fixturePath} with this call's variables)`)
  const response = await postSignedPostCall(baseUrl, elevenLabsSecret, postCallBodyFor(loadPostCallSample(), call))
  console.log(`  ${response.status} ${excerpt(response.text)}`)
  if (response.status !== 200) throw new Error(`The post-call webhook returned ${response.status}, expected 200.`)

  step(`Waiting up to ${deliveryTimeoutMs / 1000} s for ${expectedKinds.join(" and ")}`)
  const deadline = Date.now() + deliveryTimeoutMs
  const missing: Array<string> = []
  for (const kind of expectedKinds) {
    const delivery = await receiver
      .waitFor((delivery) => delivery.eventKind === kind, Math.max(0, deadline - Date.now()))
      .catch(() => undefined)
    if (delivery === undefined) missing.push(kind)
    else if (!delivery.signatureValid) missing.push(`${kind} (invalid signature)`)
  }

  step(`Delivery log: GET /v1/webhooks/${tenant.subscriptionId}/deliveries`)
  printDeliveryLog(await settledDeliveryLog(api, tenant.subscriptionId))

  if (missing.length > 0) {
    console.error(`Missing within ${deliveryTimeoutMs / 1000} s: ${missing.join(", ")}.`)
    exitCode = 1
  } else {
    step("Done: every expected delivery arrived with a valid signature")
  }
} catch (error) {
  // fetch rejects with a TypeError when nothing listens at the URL.
  const unreachable = error instanceof TypeError ? ` Is the service running at ${baseUrl}? Set SALESLAB_URL otherwise.` : ""
  console.error(`Demo failed: ${error instanceof Error ? error.message : String(error)}.${unreachable}`)
  exitCode = 1
} finally {
  await receiver.close()
}
process.exit(exitCode)
