import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import type { LookupAddress } from "node:dns"
import { AppConfig } from "../../src/platform/AppConfig.ts"
import { isPrivateAddress, makePublicOnlyLookup, privateHostReason, type ResolveAll } from "../../src/webhooks/PrivateTargets.ts"
import { WebhookSender } from "../../src/webhooks/WebhookSender.ts"
import { Receiver, respond } from "../support/Receiver.ts"

const privateAddresses = [
  "0.0.0.0",
  "10.0.0.1",
  "100.64.1.1",
  "127.0.0.1",
  "127.255.255.254",
  "169.254.169.254",
  "172.16.0.1",
  "172.31.255.255",
  "192.0.0.8",
  "192.0.2.10",
  "192.168.0.1",
  "198.18.0.1",
  "198.51.100.7",
  "203.0.113.9",
  "224.0.0.251",
  "255.255.255.255",
  "::",
  "::1",
  "::ffff:127.0.0.1",
  "::ffff:7f00:1",
  "::ffff:10.1.2.3",
  "::127.0.0.1",
  "64:ff9b::a9fe:a9fe",
  "64:ff9b:1::1",
  "2002:c0a8:0101::1",
  "2001:db8::1",
  "fc00::1",
  "fd12:3456:789a::1",
  "fe80::1",
  "fe80::1%eth0",
  "fec0::1",
  "ff02::1",
  "::ffff:0:7f00:1",
  "::1:0:0:1",
  "100::1",
  "4000::1",
  "2001::1",
  "2001:2::1",
  "3fff::1"
]

const publicAddresses = [
  "1.1.1.1",
  "8.8.8.8",
  "93.184.215.14",
  "100.63.255.255",
  "100.128.0.1",
  "172.15.255.255",
  "172.32.0.1",
  "192.169.0.1",
  "223.255.255.255",
  "2606:4700:4700::1111",
  "2001:4860:4860::8888",
  "2001:200::1",
  "3fff:1000::1",
  "::ffff:8.8.8.8",
  "64:ff9b::808:808",
  "2002:0808:0808::1"
]

/** A resolver that returns fixed addresses per host name, for `makePublicOnlyLookup`. */
const fixedResolver = (answers: Record<string, ReadonlyArray<LookupAddress>>): ResolveAll => (hostname, _options, callback) => {
  const addresses = answers[hostname]
  if (addresses === undefined) {
    callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])
    return
  }
  callback(null, addresses)
}

/** Calls a lookup function and returns its error, address and family. */
const lookUp = (lookup: ReturnType<typeof makePublicOnlyLookup>, hostname: string, all: boolean) =>
  new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family: number | undefined }>((resolve) =>
    lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family }))
  )

describe("PrivateTargets", () => {
  it("classifies private and reserved addresses", () => {
    for (const address of privateAddresses) expect(isPrivateAddress(address), address).toBe(true)
  })

  it("classifies public addresses", () => {
    for (const address of publicAddresses) expect(isPrivateAddress(address), address).toBe(false)
  })

  it("names private URL hosts", () => {
    expect(privateHostReason("localhost")).toBe("localhost is a loopback host name")
    expect(privateHostReason("api.localhost")).toBe("api.localhost is a loopback host name")
    expect(privateHostReason("localhost.")).toBe("localhost is a loopback host name")
    expect(privateHostReason("localhost..")).toBe("localhost is a loopback host name")
    expect(privateHostReason("[::1]")).toBe("::1 is a loopback, private or reserved address")
    expect(privateHostReason("10.0.0.5")).toBe("10.0.0.5 is a loopback, private or reserved address")
    expect(privateHostReason("example.com")).toBeUndefined()
    expect(privateHostReason("localhost.example.com")).toBeUndefined()
    expect(privateHostReason("8.8.8.8")).toBeUndefined()
  })

  it.effect("lookup passes on public addresses only", () =>
    Effect.promise(async () => {
      const lookup = makePublicOnlyLookup(fixedResolver({
        "mixed.test": [{ address: "10.0.0.7", family: 4 }, { address: "93.184.215.14", family: 4 }],
        "rebound.test": [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }]
      }))

      const mixedAll = await lookUp(lookup, "mixed.test", true)
      expect(mixedAll.error).toBeNull()
      expect(mixedAll.address).toEqual([{ address: "93.184.215.14", family: 4 }])

      const mixedOne = await lookUp(lookup, "mixed.test", false)
      expect(mixedOne.address).toBe("93.184.215.14")
      expect(mixedOne.family).toBe(4)

      const rebound = await lookUp(lookup, "rebound.test", true)
      expect(rebound.error?.code).toBe("EPRIVATETARGET")
      expect(rebound.error?.message).toBe(
        "rebound.test resolves only to loopback, private or reserved addresses (127.0.0.1, ::1), and deliveries go to public addresses only"
      )

      const unknown = await lookUp(lookup, "unknown.test", true)
      expect(unknown.error?.code).toBe("ENOTFOUND")
    }))
})

/** The sender with private targets allowed or not, and a receiver on 127.0.0.1. */
const senderLive = (allowPrivateTargets: boolean) =>
  WebhookSender.layer.pipe(
    Layer.provideMerge(Receiver.layer),
    Layer.provide(AppConfig.layerTest({ deliveryTimeout: Duration.seconds(2), allowPrivateTargets }))
  )

/** POSTs to the receiver under the host `host` in place of 127.0.0.1. */
const postVia = (host: string) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const sender = yield* WebhookSender
    return yield* Effect.promise(() =>
      sender.send({
        url: receiver.url.replace("127.0.0.1", host),
        headers: { "content-type": "application/json" },
        body: "{\"a\":1}"
      })
    )
  })

describe("WebhookSender and private targets", () => {
  it.scopedLive("refuses a loopback address", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const report = yield* postVia("127.0.0.1")
      expect(report.result).toEqual({
        _tag: "Blocked",
        reason: "127.0.0.1 is a loopback, private or reserved address, and deliveries go to public addresses only"
      })
      expect(yield* receiver.requests).toHaveLength(0)
    }).pipe(Effect.provide(senderLive(false))))

  it.scopedLive("refuses a name that resolves to loopback", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      const report = yield* postVia("localhost")
      expect(report.result._tag).toBe("Blocked")
      if (report.result._tag === "Blocked") {
        expect(report.result.reason).toMatch(/^localhost resolves only to loopback, private or reserved addresses \(/)
      }
      expect(yield* receiver.requests).toHaveLength(0)
    }).pipe(Effect.provide(senderLive(false))))

  it.scopedLive("sends to loopback when allowed", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver
      yield* receiver.enqueue(respond(204, ""))
      const report = yield* postVia("127.0.0.1")
      expect(report.result).toMatchObject({ _tag: "Response", statusCode: 204 })
      expect(yield* receiver.requests).toHaveLength(1)
    }).pipe(Effect.provide(senderLive(true))))
})
