import { Effect, Layer } from "effect"
import { TestServerLive, TestServerUrl } from "../test/support/TestServer.ts"
import { createTenant } from "../test/support/Tenants.ts"
const program = Effect.gen(function*() {
  const url = yield* TestServerUrl
  const tenant = yield* createTenant("Acme")
  console.log("seeded", url)
  const plain = yield* Effect.promise(() => fetch(`${url}/mcp`, { method: "POST", headers: { authorization: `Bearer ${tenant.token}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) }).then(async (r) => [r.status, (await r.text()).slice(0, 100)]))
  console.log("PLAIN", plain)
})
Effect.runPromise(Effect.scoped(Effect.provide(program, TestServerLive())).pipe(Effect.timeout("15 seconds"))).then(() => console.log("done"), (e) => console.log("ERR", e))
