/**
 * Walks through the integration surface against a running service. It
 * creates a tenant, a webhook subscription to a receiver on 127.0.0.1 and a
 * scenario, then drives the real emit point of each chosen event kind over
 * HTTP. It prints each delivery as the receiver verified it (signature,
 * body schema, tenant, delivery id), and the delivery log.
 *
 *   OPERATOR_TOKEN=... ELEVENLABS_WEBHOOK_SECRET=... npm run demo
 *   OPERATOR_TOKEN=... npm run demo -- --kind real_call.imported
 *   OPERATOR_TOKEN=... ELEVENLABS_WEBHOOK_SECRET=... STRIPE_WEBHOOK_SECRET=... npm run demo -- --all
 *
 * Without options it fires session.completed and
 * session.scorecard_finalized with one practice call. SALESLAB_URL (default
 * http://127.0.0.1:8080), OPERATOR_TOKEN and the secrets that the chosen
 * kinds need must match the service's own settings, and so should
 * COACHING_BRIEFS_TIME_ZONE when the service sets it. A kind that cannot be
 * fired at the moment is skipped with the reason. Exits with status 1 when
 * a step fails, an expected delivery is missing, or a kind chosen with
 * --kind was skipped.
 */
import { Either, Schema } from "effect"
import { parseArgs } from "node:util"
import { catalog } from "../src/events/Catalog.ts"
import { type EventKind, eventKinds, isEventKind } from "../src/events/EventKinds.ts"
import { ApiClient, ApiRequestError, createDemoTenant } from "./support/api.ts"
import { type DemoSetting, type EmitPointDriver, emitPointDrivers, type ExpectedDelivery } from "./support/emitPoints.ts"
import { type ReceivedDelivery, startReceiver } from "./support/receiver.ts"

/** Time the expected deliveries may take to arrive, all together, after the last emit point was fired. */
const deliveryTimeoutMs = 30_000

const defaultKinds: ReadonlyArray<EventKind> = ["session.completed", "session.scorecard_finalized"]

const usage = [
  "Usage: npm run demo -- [--kind KIND]... [--all]",
  "  --kind KIND  fire KIND through its emit point; repeat for several kinds",
  "  --all        fire every kind the demo can drive",
  `Without options: ${defaultKinds.join(" and ")}.`,
  `Kinds: ${eventKinds.join(", ")}.`
].join("\n")

interface DeliveryLogEntry {
  readonly delivery_id: string
  readonly event_kind: string
  readonly status: string
  readonly attempts: number
  readonly last_status_code: number | null
  readonly delivered_at: string | null
}

const exitWithUsage = (message: string): never => {
  console.error(`${message}\n${usage}`)
  return process.exit(2)
}

/** Reads the event kinds chosen on the command line; exits with status 2 on a kind the demo cannot fire. */
const readKinds = (): ReadonlyArray<EventKind> => {
  const { values } = parseArgs({
    options: {
      kind: { type: "string", multiple: true, default: [] },
      all: { type: "boolean", default: false },
      help: { type: "boolean", default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  if (values.all) {
    const undriven = eventKinds.filter((kind) => emitPointDrivers[kind] === undefined)
    if (undriven.length > 0) console.log(`Not driven by the demo (no emit point route to call): ${undriven.join(", ")}.`)
    return eventKinds.filter((kind) => emitPointDrivers[kind] !== undefined)
  }
  const chosen = values.kind.length === 0 ? defaultKinds : values.kind
  for (const kind of chosen) {
    if (!isEventKind(kind)) exitWithUsage(`--kind '${kind}' is not an event kind.`)
    else if (emitPointDrivers[kind] === undefined) exitWithUsage(`--kind '${kind}' has no emit point route the demo can call.`)
  }
  return [...new Set(chosen as ReadonlyArray<EventKind>)]
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

/** The checks the demo makes on one delivery, each with its outcome. */
interface Verification {
  readonly signatureValid: boolean
  /** The first schema issue, or undefined when the body decodes with the kind's catalog schema. */
  readonly schemaIssue: string | undefined
  readonly companyMatches: boolean
  /** Whether the body's `delivery_id` equals the header; undefined for kinds whose body has none. */
  readonly deliveryIdMatches: boolean | undefined
}

const verify = (delivery: ReceivedDelivery, companyId: string): Verification => {
  const body = JSON.parse(delivery.body) as Record<string, unknown>
  const kind = delivery.eventKind
  let schemaIssue: string | undefined = `unknown event kind '${kind}'`
  if (isEventKind(kind)) {
    const decoded = Schema.decodeUnknownEither(catalog[kind].schema as Schema.Schema<unknown, unknown>)(body)
    schemaIssue = Either.isLeft(decoded) ? decoded.left.message.split("\n").slice(0, 3).join(" ") : undefined
  }
  return {
    signatureValid: delivery.signatureValid,
    schemaIssue,
    companyMatches: body.company_id === companyId,
    deliveryIdMatches: "delivery_id" in body ? body.delivery_id === delivery.deliveryId : undefined
  }
}

const isVerified = (verification: Verification) =>
  verification.signatureValid &&
  verification.schemaIssue === undefined &&
  verification.companyMatches &&
  verification.deliveryIdMatches !== false

const printDelivery = (delivery: ReceivedDelivery, verification: Verification) => {
  const yesNo = (value: boolean) => (value ? "yes" : "NO")
  const checks = [
    `signature valid: ${yesNo(verification.signatureValid)}`,
    `catalog schema: ${verification.schemaIssue === undefined ? "yes" : `NO (${verification.schemaIssue})`}`,
    `company_id of the demo tenant: ${yesNo(verification.companyMatches)}`
  ]
  if (verification.deliveryIdMatches !== undefined) {
    checks.push(`body delivery_id equals the header: ${yesNo(verification.deliveryIdMatches)}`)
  }
  console.log(`  received ${delivery.eventKind}, delivery id ${delivery.deliveryId}`)
  console.log(`    ${checks.join(", ")}`)
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
      `/v1/webhooks/${subscriptionId}/deliveries?limit=100`,
      200
    )
    const pending = log.data.some((entry) => entry.status === "pending")
    if (!pending || Date.now() > deadline) return log.data
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const allKinds = process.argv.includes("--all")
const chosenKinds = readKinds()

// Kinds whose driver cannot fire now are skipped before anything is created.
const skipped: Array<EventKind> = []
for (const driver of new Set(chosenKinds.map((kind) => emitPointDrivers[kind]!))) {
  // With --all, a kind whose setting is missing is skipped like one that cannot fire today.
  const missing = allKinds ? driver.settings.filter((name) => !process.env[name]) : []
  const reason = driver.unavailableReason?.() ??
    (missing.length === 0 ? undefined : `${missing.join(" and ")} is not set; set it to the service's value to fire it`)
  if (reason === undefined) continue
  const driverKinds = chosenKinds.filter((kind) => emitPointDrivers[kind] === driver)
  step(`Skipping ${driverKinds.join(" and ")}: ${reason}`)
  skipped.push(...driverKinds)
}
const kinds = chosenKinds.filter((kind) => !skipped.includes(kind))
if (kinds.length === 0) {
  console.error("Nothing to fire: every chosen kind was skipped.")
  process.exit(1)
}
const drivers = [...new Set(kinds.map((kind) => emitPointDrivers[kind]!))]
const baseUrl = process.env.SALESLAB_URL || "http://127.0.0.1:8080"
const operatorToken = requiredSetting("OPERATOR_TOKEN")
const settings = new Map<DemoSetting, string>()
for (const name of new Set(drivers.flatMap((driver: EmitPointDriver) => driver.settings))) {
  settings.set(name, requiredSetting(name))
}

let companyId = ""
const receiver = await startReceiver((delivery) => printDelivery(delivery, verify(delivery, companyId)))
let exitCode = 0
let removeSubscription: (() => Promise<unknown>) | undefined
try {
  step(`Service: ${baseUrl}`)
  step(`Receiver listening at ${receiver.url}`)
  step(`Event kinds: ${kinds.join(", ")}`)
  const tenant = await createDemoTenant({ baseUrl, operatorToken, receiverUrl: receiver.url, eventKinds: kinds, onStep: step })
  companyId = tenant.companyId
  receiver.setSecret(tenant.subscriptionSecret)
  console.log(`  company ${tenant.companyId}, rep ${tenant.userId}`)
  console.log(`  subscription ${tenant.subscriptionId}, scenario ${tenant.scenarioId}`)

  const api = new ApiClient(baseUrl, tenant.adminToken)
  removeSubscription = () => api.request("DELETE", `/v1/webhooks/${tenant.subscriptionId}`, 204)
  const context = {
    baseUrl,
    tenant,
    api,
    operator: new ApiClient(baseUrl, operatorToken),
    setting: (name: DemoSetting) => settings.get(name)!,
    step
  }
  const expected: Array<ExpectedDelivery> = []
  for (const driver of drivers) {
    const fired = await driver.fire(context)
    expected.push(...fired.filter((delivery) => kinds.includes(delivery.kind)))
  }

  step(`Waiting up to ${deliveryTimeoutMs / 1000} s for ${expected.length} deliveries`)
  const deadline = Date.now() + deliveryTimeoutMs
  const failures: Array<string> = []
  for (const expectation of expected) {
    const delivery = await receiver
      .waitFor(
        (delivery) =>
          delivery.eventKind === expectation.kind &&
          expectation.matches(JSON.parse(delivery.body) as Record<string, unknown>),
        Math.max(0, deadline - Date.now())
      )
      .catch(() => undefined)
    if (delivery === undefined) failures.push(`${expectation.kind} for ${expectation.identifiedBy} did not arrive`)
    else if (!isVerified(verify(delivery, tenant.companyId))) failures.push(`${expectation.kind} failed a check above`)
  }

  step(`Delivery log: GET /v1/webhooks/${tenant.subscriptionId}/deliveries`)
  printDeliveryLog(await settledDeliveryLog(api, tenant.subscriptionId))

  if (failures.length > 0) {
    console.error(`Failed within ${deliveryTimeoutMs / 1000} s: ${failures.join("; ")}.`)
    exitCode = 1
  } else {
    step(`Done: all ${expected.length} expected deliveries arrived and passed every check`)
  }
  if (skipped.length > 0) {
    console.error(`Skipped: ${skipped.join(", ")}.`)
    if (!allKinds) exitCode = 1
  }
} catch (error) {
  // fetch rejects with a TypeError when nothing listens at the URL.
  const unreachable = error instanceof TypeError ? ` Is the service running at ${baseUrl}? Set SALESLAB_URL otherwise.` : ""
  // The demo's receiver listens on 127.0.0.1, which a service with its default settings rejects as a private target.
  const privateTarget = error instanceof ApiRequestError && error.message.includes("private target")
    ? " Start the service with WEBHOOK_ALLOW_PRIVATE_TARGETS=true so that it delivers to the demo's receiver on 127.0.0.1."
    : ""
  console.error(`Demo failed: ${error instanceof Error ? error.message : String(error)}.${unreachable}${privateTarget}`)
  exitCode = 1
} finally {
  // The receiver stops with the demo, so its subscription goes too: otherwise
  // later events would queue deliveries to a closed port and retry for hours.
  if (removeSubscription !== undefined) {
    await removeSubscription().then(
      () => step("Deleted the demo subscription"),
      (error) => console.error(`Could not delete the demo subscription: ${String(error)}`)
    )
  }
  await receiver.close()
}
process.exit(exitCode)
