/**
 * End-to-end check of the service under Deno 2: starts `deno task start` on
 * a random loopback port with a fresh embedded PostgreSQL, then drives one
 * practice call from creation to signed deliveries through the public API.
 * Prints one line per check and a closing `N passed, N failed` line; exits
 * with status 1 when any check fails.
 *
 * Run it with `npm run test:deno`.
 */
import { ApiClient, createDemoTenant, type DemoTenant, type StartedCall, startPracticeCall } from "../../scripts/support/api.ts"
import { loadPostCallSample, postCallBodyFor, postSignedPostCall } from "../../scripts/support/postCall.ts"
import { type Receiver, startReceiver } from "../../scripts/support/receiver.ts"
import { type RunningService, startService } from "../../scripts/support/service.ts"
import { postForPrefix, publicTargetsOnly } from "../../src/webhooks/WebhookSender.ts"

const operatorToken = `operator-${crypto.randomUUID()}`
const elevenLabsSecret = `wsec_${crypto.randomUUID().replace(/-/g, "")}`
const deliveryTimeoutMs = 30_000

let passed = 0
let failed = 0
let skipped = 0
let stopped = false

/** Runs one check unless an earlier one failed. Each check builds on the last, so a failure skips the rest. */
const check = async (name: string, run: () => Promise<void>) => {
  if (stopped) {
    skipped += 1
    console.log(`skip  ${name}`)
    return
  }
  try {
    await run()
    passed += 1
    console.log(`ok    ${name}`)
  } catch (error) {
    failed += 1
    stopped = true
    console.log(`FAIL  ${name}\n      ${error instanceof Error ? error.message : String(error)}`)
  }
}

const expectEqual = (actual: unknown, expected: unknown, label: string) => {
  if (actual !== expected) throw new Error(`${label}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
}

const expectStatus = async (url: string, status: number) => {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  expectEqual(response.status, status, `GET ${url} status (body ${text.slice(0, 200)})`)
  return text
}

const runtime = "Deno" in globalThis ? "Deno" : "Node"
console.log(`Smoke test runner: ${runtime} ${process.versions.deno ?? process.versions.node}`)

let service: RunningService | undefined
let receiver: Receiver | undefined
let tenant: DemoTenant | undefined
let call: StartedCall | undefined

try {
  await check("service starts under deno task start", async () => {
    service = await startService({
      runtime: "deno",
      env: { OPERATOR_TOKEN: operatorToken, ELEVENLABS_WEBHOOK_SECRET: elevenLabsSecret, LOG_LEVEL: "warning" }
    })
  })

  await check("healthz and readyz answer 200", async () => {
    await expectStatus(`${service!.baseUrl}/healthz`, 200)
    await expectStatus(`${service!.baseUrl}/readyz`, 200)
  })

  await check("openapi.json is OpenAPI 3.1", async () => {
    const document = JSON.parse(await expectStatus(`${service!.baseUrl}/openapi.json`, 200)) as {
      openapi: string
      paths: Record<string, unknown>
    }
    expectEqual(document.openapi, "3.1.0", "openapi version")
    for (const path of ["/api/admin/companies", "/v1/webhooks", "/v1/practice-calls", "/api/webhooks/elevenlabs"]) {
      if (!(path in document.paths)) throw new Error(`openapi.json lacks the path ${path}`)
    }
  })

  await check("tenant, rep, subscription and scenario are created", async () => {
    receiver = await startReceiver()
    // Only the two session kinds: a first passing session also awards a badge, which the vitest suites cover.
    tenant = await createDemoTenant({
      baseUrl: service!.baseUrl,
      operatorToken,
      receiverUrl: receiver.url,
      eventKinds: ["session.completed", "session.scorecard_finalized"]
    })
    receiver.setSecret(tenant.subscriptionSecret)
    if (!tenant.subscriptionId.startsWith("sub_")) throw new Error(`subscription id ${tenant.subscriptionId} lacks sub_`)
  })

  await check("practice call starts a session", async () => {
    const api = new ApiClient(service!.baseUrl, tenant!.adminToken)
    call = await startPracticeCall(api, tenant!.scenarioId, tenant!.userId)
    expectEqual(call.dynamicVariables.saleslab_session_id, call.sessionId, "dynamic variable saleslab_session_id")
  })

  await check("signed post-call webhook is accepted", async () => {
    const body = postCallBodyFor(loadPostCallSample(), call!)
    const response = await postSignedPostCall(service!.baseUrl, elevenLabsSecret, body)
    expectEqual(response.status, 200, `post-call webhook status (body ${response.text.slice(0, 200)})`)
  })

  for (const kind of ["session.completed", "session.scorecard_finalized"]) {
    await check(`${kind} arrives with a valid signature`, async () => {
      const delivery = await receiver!.waitFor((delivery) => delivery.eventKind === kind, deliveryTimeoutMs)
      expectEqual(delivery.signatureValid, true, "signature valid")
      const payload = JSON.parse(delivery.body) as { event_kind: string; company_id: string; delivery_id: string }
      expectEqual(payload.event_kind, kind, "payload event_kind")
      expectEqual(payload.company_id, tenant!.companyId, "payload company_id")
      expectEqual(payload.delivery_id, delivery.deliveryId, "payload delivery_id against the header")
    })
  }

  await check("delivery log lists both deliveries as succeeded", async () => {
    const api = new ApiClient(service!.baseUrl, tenant!.adminToken)
    // The receiver responds before the sender records the attempt, so the log may lag by a moment.
    const deadline = Date.now() + 10_000
    let statuses: Array<string> = []
    while (Date.now() < deadline) {
      const log = await api.request<{ data: Array<{ event_kind: string; status: string }> }>(
        "GET",
        `/v1/webhooks/${tenant!.subscriptionId}/deliveries`,
        200
      )
      statuses = log.data.map((delivery) => `${delivery.event_kind}=${delivery.status}`).sort()
      if (log.data.length === 2 && log.data.every((delivery) => delivery.status === "succeeded")) return
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new Error(`delivery log not complete after 10 s: ${statuses.join(", ") || "empty"}`)
  })

  // The service allows private targets here, for the receiver on loopback, so
  // the runtime's honouring of the sender's public-only lookup is checked directly.
  await check("sender rejects a host that resolves to loopback", async () => {
    const received = receiver!.deliveries.length
    const url = receiver!.url.replace("127.0.0.1", "localhost")
    const outcome = await postForPrefix({ url, headers: { "content-type": "application/json" }, body: "{}" }, 5_000, publicTargetsOnly)
      .then((result) => `a response: ${JSON.stringify(result)}`, (error: unknown) => error instanceof Error ? error.message : String(error))
    if (!outcome.startsWith("localhost resolves only to loopback, private or reserved addresses")) {
      throw new Error(`expected the lookup to reject localhost, got ${outcome}`)
    }
    expectEqual(receiver!.deliveries.length, received, "deliveries received after the rejected request")
  })
} finally {
  await receiver?.close()
  if (failed > 0 && service !== undefined) console.log(`Last service output:\n${service.recentOutput()}`)
  await service?.stop()
}

console.log(`smoke: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 ? 1 : 0)
