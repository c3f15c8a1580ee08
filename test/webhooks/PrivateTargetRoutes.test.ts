import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createTenant, sendAs } from "../support/Tenants.ts"
import { TestServerLive } from "../support/TestServer.ts"

describe("Webhook subscription routes without private targets", () => {
  it.layer(TestServerLive({ allowPrivateTargets: false }))((it) => {
    it.effect("create and update reject a loopback URL", () =>
      Effect.gen(function*() {
        const { token } = yield* createTenant("Acme")

        const rejected = yield* sendAs(token, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" })
        expect(rejected.status).toBe(400)
        expect(rejected.body.field).toBe("url")
        expect(rejected.body.message).toContain("127.0.0.1 is a loopback, private or reserved address")

        const created = yield* sendAs(token, "POST", "/v1/webhooks", { url: "https://hooks.example.com/saleslab" })
        expect(created.status).toBe(201)

        const metadata = yield* sendAs(token, "PATCH", `/v1/webhooks/${created.body.id}`, {
          url: "http://169.254.169.254/latest/meta-data/"
        })
        expect(metadata.status).toBe(400)
        expect(metadata.body.field).toBe("url")

        const fetched = yield* sendAs(token, "GET", `/v1/webhooks/${created.body.id}`)
        expect(fetched.body.url).toBe("https://hooks.example.com/saleslab")
      }))
  })
})
